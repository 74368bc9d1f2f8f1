//! `gatehouse groups add-user|remove-user`: one membership at a time, through the same domain
//! operation as the API's `add_user` / `remove_user` actions (a no-op when already so, still
//! recorded).

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{finish, print_json, users, AdminError, AdminFlags};
use crate::domain::{existence, groups, DomainError};

/// What to do with groups.
#[derive(Subcommand, Clone, Debug)]
pub enum GroupsCommand {
    /// Add a user to a group.
    AddUser(MembershipArgs),
    /// Remove a user from a group (a superuser who loses the status loses its sessions).
    RemoveUser(MembershipArgs),
}

/// A group and a user.
#[derive(Args, Clone, Debug)]
pub struct MembershipArgs {
    #[command(flatten)]
    flags: AdminFlags,
    /// The group: its name (or its uuid).
    group: String,
    /// The user: a username (or, when no user has that name, a numeric id).
    user: String,
}

/// Runs a `groups` command.
pub async fn run(command: GroupsCommand) -> ExitCode {
    let (name, member, args) = match command {
        GroupsCommand::AddUser(a) => ("gatehouse groups add-user", true, a),
        GroupsCommand::RemoveUser(a) => ("gatehouse groups remove-user", false, a),
    };
    finish(args.flags.json, name, async {
        let admin = args.flags.open(name).await?;
        let result = async {
            let store = admin.directory.store();
            let uuid = match groups::uuid_by_name(store, &args.group).await {
                Ok(uuid) => uuid,
                Err(DomainError::NotFound(_)) => {
                    let by_uuid =
                        existence::group_uuids(store, std::slice::from_ref(&args.group)).await?;
                    by_uuid.into_iter().next().ok_or_else(|| {
                        AdminError::NotFound(format!("no group named {:?}", args.group))
                    })?
                }
                Err(e) => return Err(e.into()),
            };
            let user = users::resolve(&admin, &args.user).await?;
            groups::set_membership(store, &uuid, user.id, member, &admin.audit()).await?;
            if admin.json {
                print_json(&serde_json::json!({
                    "group": args.group, "group_uuid": uuid,
                    "user": user.username, "user_pk": user.id, "member": member,
                }));
            } else if member {
                println!("added user {} to group {}", user.username, args.group);
            } else {
                println!("removed user {} from group {}", user.username, args.group);
            }
            Ok(())
        }
        .await;
        admin.close().await;
        result
    })
    .await
}
