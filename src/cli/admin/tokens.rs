//! `gatehouse tokens create|list|revoke`. A token is made under its owner's own token rules
//! (as if the owner made it through the API: a non-superuser's tokens expire unless the
//! owner's `goauthentik.io/user/token-expires` attribute is false); the key is printed once.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::render::{token_json, token_line};
use super::{finish, print_json, users, Admin, AdminError, AdminFlags};
use crate::domain::filter::{Cmp, Direction, Filter, Literal};
use crate::domain::principals::principal_for;
use crate::domain::tokens::{
    self, Intent, TokenChanges, TokenField, TokenFilter, TokenSettings, TokenSort,
};
use crate::domain::FieldErrors;

/// Tokens listed per read.
const LIST_PAGE: i64 = 1_000;

/// What to do with tokens.
#[derive(Subcommand, Clone, Debug)]
pub enum TokensCommand {
    /// Create a token and print its key (shown only now; with --json, in "key").
    Create(CreateArgs),
    /// List tokens (never their keys).
    List(ListArgs),
    /// Revoke a token: it is deleted and stops working at once.
    Revoke(RevokeArgs),
}

/// `tokens create`.
#[derive(Args, Clone, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    flags: AdminFlags,
    /// Its identifier (unique).
    identifier: String,
    /// Its owner: a username (or, when no user has that name, a numeric id).
    #[arg(long)]
    user: String,
    /// api (a Bearer key) or app_password.
    #[arg(long, default_value = "api")]
    intent: String,
    /// Description.
    #[arg(long, default_value = "")]
    description: String,
    /// Never expires (only where the owner's token rules allow it: superusers, or owners
    /// whose token-expires attribute is false).
    #[arg(long)]
    no_expiry: bool,
}

/// `tokens list`.
#[derive(Args, Clone, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    flags: AdminFlags,
    /// Only this user's tokens (a username, or a numeric id).
    #[arg(long)]
    user: Option<String>,
}

/// `tokens revoke`.
#[derive(Args, Clone, Debug)]
pub struct RevokeArgs {
    #[command(flatten)]
    flags: AdminFlags,
    /// The token's identifier.
    identifier: String,
}

/// Runs a `tokens` command.
pub async fn run(command: TokensCommand) -> ExitCode {
    let (name, json) = match &command {
        TokensCommand::Create(a) => ("gatehouse tokens create", a.flags.json),
        TokensCommand::List(a) => ("gatehouse tokens list", a.flags.json),
        TokensCommand::Revoke(a) => ("gatehouse tokens revoke", a.flags.json),
    };
    finish(json, name, async {
        let (admin, result) = match command {
            TokensCommand::Create(a) => {
                let admin = a.flags.open(name).await?;
                let result = create(&admin, &a).await;
                (admin, result)
            }
            TokensCommand::List(a) => {
                let admin = a.flags.open(name).await?;
                let result = list(&admin, a.user.as_deref()).await;
                (admin, result)
            }
            TokensCommand::Revoke(a) => {
                let admin = a.flags.open(name).await?;
                let result = revoke(&admin, &a.identifier).await;
                (admin, result)
            }
        };
        admin.close().await;
        result
    })
    .await
}

async fn create(admin: &Admin, a: &CreateArgs) -> Result<(), AdminError> {
    let intent = match Intent::parse(&a.intent) {
        Some(i @ (Intent::Api | Intent::AppPassword)) => i,
        _ => {
            return Err(AdminError::invalid(
                "intent",
                format!("\"{}\" is not one of api, app_password.", a.intent),
            ))
        }
    };
    let owner = users::resolve(admin, &a.user).await?;
    let store = admin.directory.store();
    let caller =
        principal_for(store, owner.id, owner.username.clone(), owner.email.clone()).await?;
    let changes = TokenChanges {
        identifier: Some(a.identifier.clone()),
        intent: Some(intent),
        user: Some(owner.id),
        description: Some(a.description.clone()),
        expiring: a.no_expiry.then_some(false),
        ..TokenChanges::default()
    };
    let settings = TokenSettings {
        default_duration_seconds: admin.config.token_duration_seconds,
    };
    let (token, key) = tokens::create(
        store,
        &admin.opened.sealer,
        &caller,
        changes,
        FieldErrors::new(),
        settings,
        &admin.audit(),
    )
    .await?;
    if a.no_expiry && token.expiring {
        // The owner's rules kept it expiring: say so rather than pretend.
        eprintln!(
            "gatehouse tokens create: {} is not a superuser and its tokens must expire; this one expires",
            owner.username
        );
    }
    if admin.json {
        let mut value = token_json(&token);
        value["key"] = serde_json::Value::from(key);
        print_json(&value);
    } else {
        // The key alone on stdout, so `KEY=$(gatehouse tokens create …)` works.
        println!("{key}");
        eprintln!("created token {}", token_line(&token));
    }
    Ok(())
}

async fn list(admin: &Admin, user: Option<&str>) -> Result<(), AdminError> {
    let owner = match user {
        Some(text) => Some(users::resolve(admin, text).await?),
        None => None,
    };
    let store = admin.directory.store();
    let sort = [(TokenSort::Field(TokenField::Id), Direction::Asc)];
    let mut after: Option<i64> = None;
    let mut all = Vec::new();
    loop {
        let mut parts: Vec<TokenFilter> = Vec::new();
        if let Some(owner) = &owner {
            parts.push(Filter::Compare(
                TokenField::UserId,
                Cmp::Eq,
                Literal::Int(owner.id),
            ));
        }
        if let Some(last) = after {
            parts.push(Filter::Compare(TokenField::Id, Cmp::Gt, Literal::Int(last)));
        }
        let page = tokens::list(store, &Filter::and(parts), &sort, LIST_PAGE, 0).await?;
        let full = page.len() as i64 == LIST_PAGE;
        after = page.last().map(|t| t.id);
        for token in page {
            if admin.json {
                all.push(token_json(&token));
            } else {
                println!("{}", token_line(&token));
            }
        }
        if !full {
            break;
        }
    }
    if admin.json {
        print_json(&serde_json::Value::Array(all));
    }
    Ok(())
}

async fn revoke(admin: &Admin, identifier: &str) -> Result<(), AdminError> {
    let token = admin.directory.token(identifier).await?;
    tokens::delete(admin.directory.store(), identifier, &admin.audit()).await?;
    if admin.json {
        let mut value = token_json(&token);
        value["revoked"] = serde_json::Value::Bool(true);
        print_json(&value);
    } else {
        println!("revoked token {identifier} (owner {})", token.user.username);
    }
    Ok(())
}
