//! The permission catalogue: every permission gatehouse knows, with the stable integer id,
//! codename, model and names authentik's API shows for it. Grants reference these ids.

/// One permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// Stable id (authentik's numbering where its recorded answers show it, e.g. `view_user` = 20).
    pub id: i64,
    /// Django app label, e.g. `authentik_core`.
    pub app_label: &'static str,
    /// Model name, e.g. `user`.
    pub model: &'static str,
    /// Codename, e.g. `view_user`.
    pub codename: &'static str,
    /// Human name, e.g. `Can view User`.
    pub name: &'static str,
}

impl Permission {
    /// `app_label.codename`.
    pub fn dotted(&self) -> String {
        format!("{}.{}", self.app_label, self.codename)
    }

    /// `app_label.model`, as the RBAC API's `model` field names it.
    pub fn model_key(&self) -> String {
        format!("{}.{}", self.app_label, self.model)
    }

    /// The app's verbose name.
    pub fn app_label_verbose(&self) -> &'static str {
        match self.app_label {
            "authentik_core" => "authentik Core",
            "authentik_rbac" => "authentik RBAC",
            "authentik_events" => "authentik Events",
            "gatehouse_scim" => "gatehouse SCIM",
            _ => self.app_label,
        }
    }

    /// The model's verbose name.
    pub fn model_verbose(&self) -> &'static str {
        match self.model {
            "user" => "User",
            "group" => "Group",
            "token" => "Token",
            "role" => "Role",
            "event" => "Event",
            "systempermission" => "System permission",
            "initialpermissions" => "Initial Permissions",
            "scimprovisioning" => "SCIM provisioning",
            other => other,
        }
    }
}

macro_rules! perms {
    ($($id:literal $app:literal $model:literal $code:literal $name:literal;)*) => {
        /// Every permission, by id.
        pub const CATALOGUE: &[Permission] = &[
            $(Permission { id: $id, app_label: $app, model: $model, codename: $code, name: $name },)*
        ];
    };
}

perms! {
    13 "authentik_core" "group" "add_group" "Can add Group";
    14 "authentik_core" "group" "change_group" "Can change Group";
    15 "authentik_core" "group" "delete_group" "Can delete Group";
    16 "authentik_core" "group" "view_group" "Can view Group";
    17 "authentik_core" "user" "add_user" "Can add User";
    18 "authentik_core" "user" "change_user" "Can change User";
    19 "authentik_core" "user" "delete_user" "Can delete User";
    20 "authentik_core" "user" "view_user" "Can view User";
    21 "authentik_core" "user" "reset_user_password" "Reset Password";
    22 "authentik_core" "user" "impersonate" "Can impersonate other users";
    23 "authentik_core" "user" "preview_user" "Can preview user data sent to providers";
    24 "authentik_core" "user" "view_user_applications" "View applications the user has access to";
    25 "authentik_core" "group" "add_user_to_group" "Add user to group";
    26 "authentik_core" "group" "remove_user_from_group" "Remove user from group";
    27 "authentik_core" "group" "enable_group_superuser" "Enable superuser status";
    28 "authentik_core" "group" "disable_group_superuser" "Disable superuser status";
    45 "authentik_core" "token" "add_token" "Can add Token";
    46 "authentik_core" "token" "change_token" "Can change Token";
    47 "authentik_core" "token" "delete_token" "Can delete Token";
    48 "authentik_core" "token" "view_token" "Can view Token";
    49 "authentik_core" "token" "view_token_key" "View token's key";
    50 "authentik_core" "token" "set_token_key" "Set a token's key";
    101 "authentik_events" "event" "add_event" "Can add Event";
    102 "authentik_events" "event" "change_event" "Can change Event";
    103 "authentik_events" "event" "delete_event" "Can delete Event";
    104 "authentik_events" "event" "view_event" "Can view Event";
    201 "authentik_rbac" "role" "add_role" "Can add Role";
    202 "authentik_rbac" "role" "change_role" "Can change Role";
    203 "authentik_rbac" "role" "delete_role" "Can delete Role";
    204 "authentik_rbac" "role" "view_role" "Can view Role";
    205 "authentik_rbac" "role" "assign_role_permissions" "Can assign permissions to roles";
    206 "authentik_rbac" "role" "unassign_role_permissions" "Can unassign permissions from roles";
    211 "authentik_rbac" "initialpermissions" "add_initialpermissions" "Can add Initial Permissions";
    212 "authentik_rbac" "initialpermissions" "change_initialpermissions" "Can change Initial Permissions";
    213 "authentik_rbac" "initialpermissions" "delete_initialpermissions" "Can delete Initial Permissions";
    214 "authentik_rbac" "initialpermissions" "view_initialpermissions" "Can view Initial Permissions";
    221 "authentik_rbac" "systempermission" "access_admin_interface" "Can access admin interface";
    222 "authentik_rbac" "systempermission" "view_system_settings" "Can view system settings";
    223 "authentik_rbac" "systempermission" "edit_system_settings" "Can edit system settings";
    224 "authentik_rbac" "systempermission" "view_system_info" "Can view system info";
    225 "authentik_rbac" "systempermission" "view_media_files" "Can view media files";
    226 "authentik_rbac" "systempermission" "manage_media_files" "Can manage media files";
    301 "gatehouse_scim" "scimprovisioning" "provision" "Can provision users and groups through SCIM";
}

/// The permission with this id.
pub fn by_id(id: i64) -> Option<&'static Permission> {
    CATALOGUE.iter().find(|p| p.id == id)
}

/// The permission named `app_label.codename`.
pub fn by_dotted(dotted: &str) -> Option<&'static Permission> {
    let (app, code) = dotted.split_once('.')?;
    CATALOGUE
        .iter()
        .find(|p| p.app_label == app && p.codename == code)
}

/// The permission with this codename on the model `app_label.model`.
pub fn by_model_codename(model_key: &str, codename: &str) -> Option<&'static Permission> {
    CATALOGUE
        .iter()
        .find(|p| p.model_key() == model_key && p.codename == codename)
}

/// The id of a permission known to exist (for the authorization rules written in code).
pub fn id_of(dotted: &str) -> i64 {
    by_dotted(dotted).map(|p| p.id).unwrap_or(-1)
}

/// Models whose objects can carry per-object grants here, with how their object pk looks.
pub const OBJECT_MODELS: [&str; 4] = [
    "authentik_core.user",
    "authentik_core.group",
    "authentik_core.token",
    "authentik_rbac.role",
];

/// The `model` values authentik's RBAC API accepts (its OpenAPI `ModelEnum`, 2025.12.4), in its
/// order; anything else is "not a valid choice".
pub const MODEL_CHOICES: [&str; 115] = [
    "authentik_tenants.domain",
    "authentik_core.group",
    "authentik_core.user",
    "authentik_core.application",
    "authentik_core.applicationentitlement",
    "authentik_core.token",
    "authentik_crypto.certificatekeypair",
    "authentik_endpoints.deviceuserbinding",
    "authentik_endpoints.deviceaccessgroup",
    "authentik_endpoints.endpointstage",
    "authentik_endpoints_connectors_agent.agentconnector",
    "authentik_endpoints_connectors_agent.agentdeviceuserbinding",
    "authentik_endpoints_connectors_agent.enrollmenttoken",
    "authentik_enterprise.license",
    "authentik_events.event",
    "authentik_events.notificationtransport",
    "authentik_events.notification",
    "authentik_events.notificationrule",
    "authentik_events.notificationwebhookmapping",
    "authentik_flows.flow",
    "authentik_flows.flowstagebinding",
    "authentik_outposts.dockerserviceconnection",
    "authentik_outposts.kubernetesserviceconnection",
    "authentik_outposts.outpost",
    "authentik_policies_dummy.dummypolicy",
    "authentik_policies_event_matcher.eventmatcherpolicy",
    "authentik_policies_expiry.passwordexpirypolicy",
    "authentik_policies_expression.expressionpolicy",
    "authentik_policies_geoip.geoippolicy",
    "authentik_policies_password.passwordpolicy",
    "authentik_policies_reputation.reputationpolicy",
    "authentik_policies.policybinding",
    "authentik_providers_ldap.ldapprovider",
    "authentik_providers_oauth2.scopemapping",
    "authentik_providers_oauth2.oauth2provider",
    "authentik_providers_proxy.proxyprovider",
    "authentik_providers_rac.racprovider",
    "authentik_providers_rac.endpoint",
    "authentik_providers_rac.racpropertymapping",
    "authentik_providers_radius.radiusprovider",
    "authentik_providers_radius.radiusproviderpropertymapping",
    "authentik_providers_saml.samlprovider",
    "authentik_providers_saml.samlpropertymapping",
    "authentik_providers_scim.scimprovider",
    "authentik_providers_scim.scimmapping",
    "authentik_rbac.role",
    "authentik_rbac.initialpermissions",
    "authentik_sources_kerberos.kerberossource",
    "authentik_sources_kerberos.kerberossourcepropertymapping",
    "authentik_sources_kerberos.userkerberossourceconnection",
    "authentik_sources_kerberos.groupkerberossourceconnection",
    "authentik_sources_ldap.ldapsource",
    "authentik_sources_ldap.ldapsourcepropertymapping",
    "authentik_sources_ldap.userldapsourceconnection",
    "authentik_sources_ldap.groupldapsourceconnection",
    "authentik_sources_oauth.oauthsource",
    "authentik_sources_oauth.oauthsourcepropertymapping",
    "authentik_sources_oauth.useroauthsourceconnection",
    "authentik_sources_oauth.groupoauthsourceconnection",
    "authentik_sources_plex.plexsource",
    "authentik_sources_plex.plexsourcepropertymapping",
    "authentik_sources_plex.userplexsourceconnection",
    "authentik_sources_plex.groupplexsourceconnection",
    "authentik_sources_saml.samlsource",
    "authentik_sources_saml.samlsourcepropertymapping",
    "authentik_sources_saml.usersamlsourceconnection",
    "authentik_sources_saml.groupsamlsourceconnection",
    "authentik_sources_scim.scimsource",
    "authentik_sources_scim.scimsourcepropertymapping",
    "authentik_sources_telegram.telegramsource",
    "authentik_sources_telegram.telegramsourcepropertymapping",
    "authentik_sources_telegram.usertelegramsourceconnection",
    "authentik_sources_telegram.grouptelegramsourceconnection",
    "authentik_stages_authenticator_duo.authenticatorduostage",
    "authentik_stages_authenticator_duo.duodevice",
    "authentik_stages_authenticator_email.authenticatoremailstage",
    "authentik_stages_authenticator_email.emaildevice",
    "authentik_stages_authenticator_sms.authenticatorsmsstage",
    "authentik_stages_authenticator_sms.smsdevice",
    "authentik_stages_authenticator_static.authenticatorstaticstage",
    "authentik_stages_authenticator_static.staticdevice",
    "authentik_stages_authenticator_totp.authenticatortotpstage",
    "authentik_stages_authenticator_totp.totpdevice",
    "authentik_stages_authenticator_validate.authenticatorvalidatestage",
    "authentik_stages_authenticator_webauthn.authenticatorwebauthnstage",
    "authentik_stages_authenticator_webauthn.webauthndevice",
    "authentik_stages_captcha.captchastage",
    "authentik_stages_consent.consentstage",
    "authentik_stages_deny.denystage",
    "authentik_stages_dummy.dummystage",
    "authentik_stages_email.emailstage",
    "authentik_stages_identification.identificationstage",
    "authentik_stages_invitation.invitationstage",
    "authentik_stages_invitation.invitation",
    "authentik_stages_password.passwordstage",
    "authentik_stages_prompt.prompt",
    "authentik_stages_prompt.promptstage",
    "authentik_stages_redirect.redirectstage",
    "authentik_stages_user_delete.userdeletestage",
    "authentik_stages_user_login.userloginstage",
    "authentik_stages_user_logout.userlogoutstage",
    "authentik_stages_user_write.userwritestage",
    "authentik_tasks_schedules.schedule",
    "authentik_brands.brand",
    "authentik_blueprints.blueprintinstance",
    "authentik_policies_unique_password.uniquepasswordpolicy",
    "authentik_providers_google_workspace.googleworkspaceprovider",
    "authentik_providers_google_workspace.googleworkspaceprovidermapping",
    "authentik_providers_microsoft_entra.microsoftentraprovider",
    "authentik_providers_microsoft_entra.microsoftentraprovidermapping",
    "authentik_providers_ssf.ssfprovider",
    "authentik_reports.dataexport",
    "authentik_stages_authenticator_endpoint_gdtc.authenticatorendpointgdtcstage",
    "authentik_stages_mtls.mutualtlsstage",
    "authentik_stages_source.sourcestage",
];

/// Whether `model` (`app_label.model`) is one of [`MODEL_CHOICES`].
pub fn is_model_choice(model: &str) -> bool {
    MODEL_CHOICES.contains(&model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_match_samples() {
        for (i, a) in CATALOGUE.iter().enumerate() {
            for b in &CATALOGUE[i + 1..] {
                assert_ne!(a.id, b.id);
                assert_ne!(a.dotted(), b.dotted());
            }
        }
        assert_eq!(
            by_dotted("authentik_core.view_user").map(|p| p.id),
            Some(20)
        );
        assert_eq!(
            by_dotted("authentik_core.delete_user").map(|p| p.name),
            Some("Can delete User")
        );
        assert!(by_dotted("view_user").is_none());
        assert_eq!(
            by_model_codename("authentik_core.user", "view_user").map(|p| p.id),
            Some(20)
        );
    }

    #[test]
    fn every_catalogued_object_model_is_a_model_choice() {
        for model in OBJECT_MODELS {
            assert!(is_model_choice(model), "{model}");
        }
        assert!(is_model_choice("authentik_events.event"));
        assert!(!is_model_choice("authentik_core.nope"));
    }
}
