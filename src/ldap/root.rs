//! The rootDSE (what the server supports, ldap.md §3.4: authentik's attributes plus the
//! extensions and controls really implemented) and the `cn=subschema` entry declaring every
//! attribute and object class the tree emits.

use super::entry::{Attr, Entry, Tree};

/// Paged results (RFC 2696).
pub const PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
/// Who am I? (RFC 4532).
pub const WHOAMI: &str = "1.3.6.1.4.1.4203.1.11.3";
/// Password Modify (RFC 3062).
pub const PASSWORD_MODIFY: &str = "1.3.6.1.4.1.4203.1.11.1";
/// StartTLS (RFC 4511 §4.14).
pub const STARTTLS: &str = "1.3.6.1.4.1.1466.20037";

fn attr(name: &'static str, values: &[&str]) -> Attr {
    Attr {
        name: name.into(),
        values: values.iter().map(|s| s.to_string().into()).collect(),
        operational: false,
    }
}

/// The rootDSE's attributes (also carried by the base entry, as the outpost does).
pub fn root_attrs(tree: &Tree) -> Vec<Attr> {
    let base = tree.base_lc.as_str();
    vec![
        attr("objectClass", &["top"]),
        attr("supportedLDAPVersion", &["3"]),
        attr("supportedControl", &[PAGED_RESULTS]),
        if tree.starttls {
            attr("supportedExtension", &[WHOAMI, PASSWORD_MODIFY, STARTTLS])
        } else {
            attr("supportedExtension", &[WHOAMI, PASSWORD_MODIFY])
        },
        // `+` returns every operational attribute (RFC 3673).
        attr("supportedFeatures", &["1.3.6.1.4.1.4203.1.5.1"]),
        attr("subschemaSubentry", &["cn=subschema"]),
        attr("namingContexts", &[base]),
        attr("rootDomainNamingContext", &[base]),
        attr("defaultNamingContext", &[base]),
        attr("vendorName", &["goauthentik.io"]),
        attr(
            "vendorVersion",
            &[concat!("gatehouse ", env!("CARGO_PKG_VERSION"))],
        ),
    ]
}

/// The rootDSE entry (DN `""`).
pub fn root_dse(tree: &Tree) -> Entry {
    Entry {
        dn: String::new(),
        attrs: root_attrs(tree),
    }
}

/// Attribute types declared in the subschema: (OID, name(s), syntax, single-valued).
const ATTRIBUTE_TYPES: &[(&str, &str, &str)] = &[
    ("2.5.4.0", "'objectClass'", "1.3.6.1.4.1.1466.115.121.1.38"),
    (
        "2.5.4.3",
        "( 'cn' 'commonName' )",
        "1.3.6.1.4.1.1466.115.121.1.15",
    ),
    (
        "0.9.2342.19200300.100.1.1",
        "'uid'",
        "1.3.6.1.4.1.1466.115.121.1.15",
    ),
    (
        "0.9.2342.19200300.100.1.3",
        "'mail'",
        "1.3.6.1.4.1.1466.115.121.1.26",
    ),
    ("2.5.4.4", "'sn'", "1.3.6.1.4.1.1466.115.121.1.15"),
    ("2.5.4.42", "'givenName'", "1.3.6.1.4.1.1466.115.121.1.15"),
    (
        "2.16.840.1.113730.3.1.241",
        "'displayName'",
        "1.3.6.1.4.1.1466.115.121.1.15",
    ),
    (
        "1.2.840.113556.1.4.1",
        "'name'",
        "1.3.6.1.4.1.1466.115.121.1.15",
    ),
    (
        "1.2.840.113556.1.4.221",
        "'sAMAccountName'",
        "1.3.6.1.4.1.1466.115.121.1.15",
    ),
    (
        "1.3.6.1.1.1.1.0",
        "'uidNumber'",
        "1.3.6.1.4.1.1466.115.121.1.27",
    ),
    (
        "1.3.6.1.1.1.1.1",
        "'gidNumber'",
        "1.3.6.1.4.1.1466.115.121.1.27",
    ),
    (
        "1.3.6.1.1.1.1.3",
        "'homeDirectory'",
        "1.3.6.1.4.1.1466.115.121.1.26",
    ),
    (
        "1.3.6.1.1.1.1.4",
        "'loginShell'",
        "1.3.6.1.4.1.1466.115.121.1.26",
    ),
    (
        "1.3.6.1.1.1.1.12",
        "'memberUid'",
        "1.3.6.1.4.1.1466.115.121.1.26",
    ),
    (
        "1.2.840.113556.1.2.102",
        "'memberOf'",
        "1.3.6.1.4.1.1466.115.121.1.12",
    ),
    ("2.5.4.31", "'member'", "1.3.6.1.4.1.1466.115.121.1.12"),
    (
        "2.5.4.50",
        "'uniqueMember'",
        "1.3.6.1.4.1.1466.115.121.1.12",
    ),
    ("2.5.4.11", "'ou'", "1.3.6.1.4.1.1466.115.121.1.15"),
    ("2.5.4.13", "'description'", "1.3.6.1.4.1.1466.115.121.1.15"),
    (
        "1.2.840.113556.1.4.49",
        "'distinguishedName'",
        "1.3.6.1.4.1.1466.115.121.1.12",
    ),
    (
        "1.3.6.1.4.1.26027.1.1.2",
        "( 'goauthentik.io/ldap/superuser' 'ak-superuser' )",
        "1.3.6.1.4.1.1466.115.121.1.7",
    ),
    (
        "1.3.6.1.4.1.26027.1.1.3",
        "( 'goauthentik.io/ldap/active' 'ak-active' )",
        "1.3.6.1.4.1.1466.115.121.1.7",
    ),
    (
        "1.3.6.1.4.1.26027.1.1.4",
        "( 'goauthentik.io/ldap/sources' 'goauthentikio-user-sources' )",
        "1.3.6.1.4.1.1466.115.121.1.15",
    ),
    (
        "1.3.6.1.4.1.42.2.27.8.1.16",
        "'pwdChangedTime'",
        "1.3.6.1.4.1.1466.115.121.1.24",
    ),
    (
        "2.5.18.1",
        "'createTimestamp'",
        "1.3.6.1.4.1.1466.115.121.1.24",
    ),
    (
        "2.5.18.2",
        "'modifyTimestamp'",
        "1.3.6.1.4.1.1466.115.121.1.24",
    ),
    ("1.3.6.1.1.16.4", "'entryUUID'", "1.3.6.1.1.16.1"),
    ("1.3.6.1.1.20", "'entryDN'", "1.3.6.1.4.1.1466.115.121.1.12"),
    (
        "2.5.18.10",
        "'subschemaSubentry'",
        "1.3.6.1.4.1.1466.115.121.1.12",
    ),
    (
        "2.5.18.9",
        "'hasSubordinates'",
        "1.3.6.1.4.1.1466.115.121.1.7",
    ),
    (
        "1.3.6.1.4.1.42.2.27.8.1.1",
        "'sshPublicKey'",
        "1.3.6.1.4.1.1466.115.121.1.40",
    ),
];

const OBJECT_CLASSES: &[&str] = &[
    "( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )",
    "( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) )",
    "( 2.5.6.7 NAME 'organizationalPerson' SUP person STRUCTURAL )",
    "( 2.16.840.1.113730.3.2.2 NAME 'inetOrgPerson' SUP organizationalPerson STRUCTURAL MAY ( mail $ uid $ displayName $ givenName ) )",
    "( 1.2.840.113556.1.5.9 NAME 'user' SUP organizationalPerson STRUCTURAL MAY ( sAMAccountName $ name $ memberOf ) )",
    "( 1.3.6.1.1.1.2.0 NAME 'posixAccount' SUP top AUXILIARY MUST ( cn $ uid $ uidNumber $ gidNumber $ homeDirectory ) MAY loginShell )",
    "( 1.3.6.1.4.1.26027.1.2.1 NAME 'goauthentik.io/ldap/user' SUP top AUXILIARY MAY ( ak-active $ ak-superuser ) )",
    "( 2.5.6.9 NAME 'groupOfNames' SUP top STRUCTURAL MUST cn MAY member )",
    "( 2.5.6.17 NAME 'groupOfUniqueNames' SUP top STRUCTURAL MUST cn MAY uniqueMember )",
    "( 1.2.840.113556.1.5.8 NAME 'group' SUP top STRUCTURAL MAY ( member $ memberOf $ sAMAccountName ) )",
    "( 1.3.6.1.1.1.2.2 NAME 'posixGroup' SUP top AUXILIARY MUST gidNumber MAY memberUid )",
    "( 1.3.6.1.4.1.26027.1.2.2 NAME 'goauthentik.io/ldap/group' SUP top AUXILIARY MAY ak-superuser )",
    "( 1.3.6.1.4.1.26027.1.2.3 NAME 'goauthentik.io/ldap/virtual-group' SUP top AUXILIARY )",
    "( 2.16.840.1.113730.3.2.1 NAME 'nsContainer' SUP top STRUCTURAL MAY cn )",
    "( 2.5.6.5 NAME 'organizationalUnit' SUP top STRUCTURAL MUST ou )",
    "( 2.5.20.1 NAME 'subschema' AUXILIARY MAY ( attributeTypes $ objectClasses $ ldapSyntaxes ) )",
];

const SYNTAXES: &[(&str, &str)] = &[
    ("1.3.6.1.4.1.1466.115.121.1.7", "Boolean"),
    ("1.3.6.1.4.1.1466.115.121.1.12", "DN"),
    ("1.3.6.1.4.1.1466.115.121.1.15", "Directory String"),
    ("1.3.6.1.4.1.1466.115.121.1.24", "Generalized Time"),
    ("1.3.6.1.4.1.1466.115.121.1.26", "IA5 String"),
    ("1.3.6.1.4.1.1466.115.121.1.27", "INTEGER"),
    ("1.3.6.1.4.1.1466.115.121.1.38", "OID"),
    ("1.3.6.1.4.1.1466.115.121.1.40", "Octet String"),
    ("1.3.6.1.1.16.1", "UUID"),
];

/// The `cn=subschema` entry.
pub fn subschema() -> Entry {
    let attribute_types = ATTRIBUTE_TYPES
        .iter()
        .map(|(oid, names, syntax)| format!("( {oid} NAME {names} SYNTAX {syntax} )").into())
        .collect();
    let syntaxes = SYNTAXES
        .iter()
        .map(|(oid, desc)| format!("( {oid} DESC '{desc}' )").into())
        .collect();
    let mut attrs = vec![
        attr("objectClass", &["top", "subschema"]),
        attr("cn", &["subschema"]),
    ];
    attrs.push(Attr {
        name: "ldapSyntaxes".into(),
        values: syntaxes,
        operational: false,
    });
    attrs.push(Attr {
        name: "attributeTypes".into(),
        values: attribute_types,
        operational: false,
    });
    attrs.push(attr("objectClasses", OBJECT_CLASSES));
    Entry {
        dn: "cn=subschema".into(),
        attrs,
    }
}
