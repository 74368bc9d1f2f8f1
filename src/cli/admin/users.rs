//! `gatehouse users create|list|set-password|deactivate|activate`.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::password::{self, Source};
use super::render::{user_json, user_line};
use super::{finish, print_json, Admin, AdminError, AdminFlags};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::users::{self, User, UserChanges, UserField, UserFilter, UserSort, UserType};
use crate::domain::{groups, FieldErrors};

/// Users listed per read.
const LIST_PAGE: i64 = 1_000;

/// What to do with users.
#[derive(Subcommand, Clone, Debug)]
pub enum UsersCommand {
    /// Create a user (no usable password unless --password-stdin or --password-prompt).
    Create(CreateArgs),
    /// List users, by id (streamed: fine for a million).
    List(ListArgs),
    /// Set a user's password (argon2id), read from standard input or a prompt, never argv;
    /// ends the user's sessions.
    SetPassword(SetPasswordArgs),
    /// Deactivate a user: no login, no token works, sessions end.
    Deactivate(UserArgs),
    /// Activate a user again.
    Activate(UserArgs),
}

/// `users create`.
#[derive(Args, Clone, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    flags: AdminFlags,
    /// Username (letters, digits and @ . + - _).
    username: String,
    /// Display name.
    #[arg(long, default_value = "")]
    name: String,
    /// E-mail address.
    #[arg(long, default_value = "")]
    email: String,
    /// Directory path.
    #[arg(long)]
    path: Option<String>,
    /// internal, external or service_account.
    #[arg(long = "type", value_name = "TYPE", default_value = "internal")]
    user_type: String,
    /// Create it inactive.
    #[arg(long)]
    inactive: bool,
    /// Add it to this group (by name); repeat for several.
    #[arg(long = "group", value_name = "NAME")]
    groups: Vec<String>,
    /// Make it a superuser (a member of the superuser group, as AWX's is_superuser).
    #[arg(long)]
    superuser: bool,
    /// Read its password from the first line of standard input.
    #[arg(long, conflicts_with = "password_prompt")]
    password_stdin: bool,
    /// Ask for its password on the terminal (not echoed).
    #[arg(long)]
    password_prompt: bool,
}

/// `users list`.
#[derive(Args, Clone, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    flags: AdminFlags,
    /// Only users whose username, name or e-mail contains this (case-insensitive).
    #[arg(long)]
    search: Option<String>,
    /// Only active users.
    #[arg(long, conflicts_with = "inactive")]
    active: bool,
    /// Only inactive users.
    #[arg(long)]
    inactive: bool,
}

/// `users set-password`.
#[derive(Args, Clone, Debug)]
pub struct SetPasswordArgs {
    #[command(flatten)]
    flags: AdminFlags,
    /// The user: a username (or, when no user has that name, a numeric id).
    user: String,
    /// Read the password from the first line of standard input (else: a prompt on a terminal).
    #[arg(long)]
    password_stdin: bool,
}

/// A command naming one user.
#[derive(Args, Clone, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    flags: AdminFlags,
    /// The user: a username (or, when no user has that name, a numeric id).
    user: String,
}

/// Runs a `users` command.
pub async fn run(command: UsersCommand) -> ExitCode {
    let (name, json) = match &command {
        UsersCommand::Create(a) => ("gatehouse users create", a.flags.json),
        UsersCommand::List(a) => ("gatehouse users list", a.flags.json),
        UsersCommand::SetPassword(a) => ("gatehouse users set-password", a.flags.json),
        UsersCommand::Deactivate(a) => ("gatehouse users deactivate", a.flags.json),
        UsersCommand::Activate(a) => ("gatehouse users activate", a.flags.json),
    };
    finish(json, name, async {
        match command {
            UsersCommand::Create(a) => {
                // The password is read before the database is opened (a prompt waits for a
                // person; nothing should be held meanwhile).
                let password = match (a.password_stdin, a.password_prompt) {
                    (true, _) => Some(password::read(Source::Stdin)?),
                    (_, true) => Some(password::read(Source::Prompt)?),
                    _ => None,
                };
                let admin = a.flags.open(name).await?;
                let result = create(&admin, &a, password).await;
                admin.close().await;
                result
            }
            UsersCommand::List(a) => {
                let admin = a.flags.open(name).await?;
                let result = list(&admin, &a).await;
                admin.close().await;
                result
            }
            UsersCommand::SetPassword(a) => {
                let source = if a.password_stdin {
                    Source::Stdin
                } else {
                    Source::Prompt
                };
                let password = password::read(source)?;
                let admin = a.flags.open(name).await?;
                let result = set_password(&admin, &a.user, password).await;
                admin.close().await;
                result
            }
            UsersCommand::Deactivate(a) => {
                let admin = a.flags.open(name).await?;
                let result = set_active(&admin, &a.user, false).await;
                admin.close().await;
                result
            }
            UsersCommand::Activate(a) => {
                let admin = a.flags.open(name).await?;
                let result = set_active(&admin, &a.user, true).await;
                admin.close().await;
                result
            }
        }
    })
    .await
}

/// The user a command names: by username, else by id when the text is a number.
pub async fn resolve(admin: &Admin, text: &str) -> Result<User, AdminError> {
    match users::get_by_username(admin.directory.store(), text).await {
        Ok(user) => Ok(user),
        Err(crate::domain::DomainError::NotFound(_)) => match text.parse::<i64>() {
            Ok(id) => Ok(admin.directory.user(id).await?),
            Err(_) => Err(AdminError::NotFound(format!("no user named {text:?}"))),
        },
        Err(e) => Err(e.into()),
    }
}

fn print_user(admin: &Admin, user: &User, what: &str) {
    if admin.json {
        print_json(&user_json(user));
    } else {
        println!("{what} user {} (pk {})", user.username, user.id);
    }
}

async fn create(admin: &Admin, a: &CreateArgs, password: Option<String>) -> Result<(), AdminError> {
    let user_type = UserType::parse(&a.user_type)
        .filter(|t| *t != UserType::InternalServiceAccount)
        .ok_or_else(|| {
            AdminError::invalid(
                "type",
                format!(
                    "\"{}\" is not one of internal, external, service_account.",
                    a.user_type
                ),
            )
        })?;
    let mut group_uuids = Vec::new();
    for name in &a.groups {
        match groups::uuid_by_name(admin.directory.store(), name).await {
            Ok(uuid) => group_uuids.push(uuid),
            Err(crate::domain::DomainError::NotFound(_)) => {
                return Err(AdminError::NotFound(format!("no group named {name:?}")))
            }
            Err(e) => return Err(e.into()),
        }
    }
    let changes = UserChanges {
        username: Some(a.username.trim().to_string()),
        name: Some(a.name.clone()),
        email: Some(a.email.clone()),
        path: a.path.clone(),
        user_type: Some(user_type),
        is_active: Some(!a.inactive),
        groups: (!group_uuids.is_empty()).then_some(group_uuids),
        superuser: a.superuser.then_some(true),
        password: password.map(Some),
        ..UserChanges::default()
    };
    let user = users::create(
        admin.directory.store(),
        changes,
        FieldErrors::new(),
        &admin.audit(),
    )
    .await?;
    print_user(admin, &user, "created");
    Ok(())
}

async fn list(admin: &Admin, a: &ListArgs) -> Result<(), AdminError> {
    let mut parts: Vec<UserFilter> = Vec::new();
    if let Some(text) = a.search.as_deref().filter(|t| !t.is_empty()) {
        parts.push(Filter::Or(vec![
            Filter::IContains(UserField::Username, text.to_string()),
            Filter::IContains(UserField::Name, text.to_string()),
            Filter::IContains(UserField::Email, text.to_string()),
        ]));
    }
    if a.active || a.inactive {
        parts.push(Filter::Compare(
            UserField::IsActive,
            Cmp::Eq,
            Literal::Bool(a.active),
        ));
    }
    let sort = [(UserSort::Field(UserField::Id), Direction::Asc)];
    let mut after: Option<i64> = None;
    let mut first = true;
    if admin.json {
        println!("[");
    }
    loop {
        let mut page_filter = parts.clone();
        if let Some(last) = after {
            page_filter.push(Filter::Compare(UserField::Id, Cmp::Gt, Literal::Int(last)));
        }
        let page = admin
            .directory
            .list_users(&Filter::and(page_filter), &sort, LIST_PAGE, 0)
            .await?;
        for user in &page {
            if admin.json {
                let text = serde_json::to_string(&user_json(user)).unwrap_or_default();
                if first {
                    print!("  {text}");
                } else {
                    print!(",\n  {text}");
                }
            } else {
                println!("{}", user_line(user));
            }
            first = false;
        }
        match page.last() {
            Some(last) if page.len() as i64 == LIST_PAGE => after = Some(last.id),
            _ => break,
        }
    }
    if admin.json {
        println!("{}]", if first { "" } else { "\n" });
    }
    Ok(())
}

async fn set_password(admin: &Admin, who: &str, password: String) -> Result<(), AdminError> {
    let user = resolve(admin, who).await?;
    users::set_password(admin.directory.store(), user.id, password, &admin.audit()).await?;
    if admin.json {
        print_json(
            &serde_json::json!({"pk": user.id, "username": user.username, "password_set": true}),
        );
    } else {
        println!("password set for user {} (pk {})", user.username, user.id);
    }
    Ok(())
}

async fn set_active(admin: &Admin, who: &str, active: bool) -> Result<(), AdminError> {
    let user = resolve(admin, who).await?;
    let changes = UserChanges {
        is_active: Some(active),
        ..UserChanges::default()
    };
    let user = users::update(
        admin.directory.store(),
        user.id,
        changes,
        FieldErrors::new(),
        &admin.audit(),
    )
    .await?;
    print_user(
        admin,
        &user,
        if active { "activated" } else { "deactivated" },
    );
    Ok(())
}
