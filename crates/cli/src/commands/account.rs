//! `carnac account`: people and machines, their roles, tenants and credentials.

use std::process::ExitCode;

use anyhow::Context;
use carnac_archive::Archive;
use carnac_model::access::{AccountKind, Role};

use super::{SecretFile, read_certificate, read_password, tenant};
use crate::args::AccountCommand;

pub(crate) fn run(archive: &Archive, command: AccountCommand) -> anyhow::Result<ExitCode> {
    match command {
        AccountCommand::Create {
            login,
            role,
            tenant: tenants,
            password_file,
            token_file,
            kind,
            certificate,
            agency: agencies,
        } => {
            let certificate = certificate.as_deref().map(read_certificate).transpose()?;
            let role = Role::parse(&role).context("unknown role")?;
            let kind = AccountKind::parse(&kind).context("unknown kind")?;
            let tenants = tenants
                .iter()
                .map(|t| tenant(t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let password = password_file.as_deref().map(read_password).transpose()?;
            // The file first: a token made for a file that cannot be written would be lost.
            let mut secret = token_file.as_deref().map(SecretFile::create).transpose()?;
            let (account, token) = archive.create_account(
                &carnac_archive::accounts::NewAccount {
                    login: &login,
                    role,
                    kind,
                    tenants: &tenants,
                    password: password.as_deref(),
                    token: token_file.is_some(),
                    certificate: certificate.as_deref(),
                    agencies: &agencies,
                },
                "cli",
            )?;
            if let (Some(f), Some(token)) = (secret.as_mut(), &token) {
                f.write(token)?;
            }
            println!(
                "account {} created: {} on {}{}",
                account.login,
                account.role,
                if account.tenants.is_empty() {
                    "the platform".to_owned()
                } else {
                    joined(&account.tenants, ", ")
                },
                if account.agencies.is_empty() {
                    String::new()
                } else {
                    format!(", for {}", account.agencies.join(", "))
                }
            );
        }
        AccountCommand::Token { login, token_file } => {
            let mut secret = SecretFile::create(&token_file)?;
            let token = archive.issue_token(&login, "cli")?;
            secret.write(&token)?;
            println!(
                "a new token for {login} is in {} (token id {})",
                token_file.display(),
                carnac_archive::accounts::token_id(&token)
            );
        }
        AccountCommand::Certificate { login, certificate } => {
            let der = read_certificate(&certificate)?;
            let sha256 = archive.register_certificate(&login, &der, "cli")?;
            println!("certificate {sha256} registered to {login}");
        }
        AccountCommand::Tokens { login } => {
            for t in archive.tokens(&login)? {
                match &t.revoked_at {
                    Some(r) => println!("{}\t{}\trevoked {r}", t.id, t.created_at),
                    None => println!("{}\t{}", t.id, t.created_at),
                }
            }
        }
        AccountCommand::RevokeToken { login, id } => {
            archive.revoke_token(&login, &id, "cli")?;
            println!("token {id} of {login} revoked");
        }
        AccountCommand::Disable { login } => {
            archive.set_account_disabled(&login, true, "cli")?;
            println!("account {login} disabled");
        }
        AccountCommand::Enable { login } => {
            archive.set_account_disabled(&login, false, "cli")?;
            println!("account {login} enabled");
        }
        AccountCommand::List => {
            for a in archive.accounts()? {
                println!(
                    "{}\t{}\t{}\t{}{}",
                    a.login,
                    a.role,
                    a.kind.as_str(),
                    joined(&a.tenants, ","),
                    if a.disabled_at.is_some() {
                        "\tdisabled"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn joined(tenants: &[carnac_model::TenantId], separator: &str) -> String {
    tenants
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}
