//! The flags every server command takes for its REST API (`platone bal`, `platone market
//! serve`): TLS, the embedded issuer's clients, an OpenID Connect issuer.

use std::path::PathBuf;

use clap::Args;
use platone_service::{OidcSettings, ServiceSecurity, TlsSettings};

/// How the REST API listens and whose tokens it takes (each overrides `[api]` of the
/// configuration file).
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// The REST API's certificate chain (PEM), served over HTTPS (with --tls-key; reloaded
    /// on SIGHUP).
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_key",
        conflicts_with = "insecure_http"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require REST clients to present a certificate chaining to this CA (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Serve the REST API over plain HTTP: bearer tokens and data travel unencrypted.
    #[arg(long)]
    insecure_http: bool,
    /// A client of the embedded token issuer (POST /oauth/token, client-credentials grant):
    /// ID=SECRET:ROLE[,ROLE…], the id being the participant (repeatable; role `dso` sees
    /// everything). Prefer --client-file or the environment variable (PLATONE_BAL_CLIENTS,
    /// PLATONE_MARKET_CLIENTS; clients separated by white space): command lines are visible to
    /// other users.
    #[arg(long = "client", value_name = "ID=SECRET:ROLES")]
    clients: Vec<String>,
    /// A file of embedded issuer clients, one ID=SECRET:ROLES per line, the secret in clear or
    /// as its argon2 PHC string (`$argon2id$…`).
    #[arg(long, value_name = "FILE")]
    client_file: Option<PathBuf>,
    /// The REST API's public base URL, the embedded issuer's `iss` [default: the listener's].
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Accept the access tokens of this OpenID Connect issuer (its discovery document and
    /// JWKS are fetched from it).
    #[arg(long, value_name = "URL")]
    oidc_issuer: Option<String>,
    /// The audience the OIDC issuer's tokens must name [default: the service's, platone-bal or platone-market].
    #[arg(long, value_name = "AUD", requires = "oidc_issuer")]
    oidc_audience: Option<String>,
    /// The claim holding the roles in the OIDC issuer's tokens, dotted for nested objects
    /// [default: roles,realm_access.roles].
    #[arg(long, value_name = "CLAIM", requires = "oidc_issuer")]
    oidc_roles_claim: Option<String>,
    /// The CA (PEM) of the OIDC issuer's certificate [default: the system's bundle].
    #[arg(long, value_name = "PEM", requires = "oidc_issuer")]
    oidc_ca: Option<PathBuf>,
}

impl ApiArgs {
    /// [`ApiArgs::apply`], then checks the settings and that they make a listener (a usage
    /// error naming what is wrong otherwise).
    pub fn apply_checked(
        &self,
        api: &mut ServiceSecurity,
        clients_var: &str,
    ) -> crate::error::CliResult {
        self.apply(api, clients_var);
        api.validate().map_err(crate::error::CliError::usage)?;
        api.transport().map_err(crate::error::CliError::usage)?;
        Ok(())
    }

    /// Applies the flags to `api`, and the clients of the environment variable `clients_var`.
    pub fn apply(&self, api: &mut ServiceSecurity, clients_var: &str) {
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            api.tls = Some(TlsSettings {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: self.tls_client_ca.clone(),
            });
            api.insecure_http = false;
        }
        if self.insecure_http {
            api.insecure_http = true;
            api.tls = None;
        }
        api.clients.extend(self.clients.iter().cloned());
        if let Ok(clients) = std::env::var(clients_var) {
            api.clients
                .extend(clients.split_whitespace().map(str::to_owned));
        }
        if let Some(file) = &self.client_file {
            api.client_file = Some(file.clone());
        }
        if let Some(url) = &self.public_url {
            api.public_url = Some(url.clone());
        }
        if let Some(issuer) = &self.oidc_issuer {
            let mut oidc = api
                .oidc
                .take()
                .unwrap_or_else(|| OidcSettings::new(issuer.clone()));
            oidc.issuer = issuer.clone();
            if let Some(audience) = &self.oidc_audience {
                oidc.audience = Some(audience.clone());
            }
            if let Some(claim) = &self.oidc_roles_claim {
                oidc.roles_claim = claim.clone();
            }
            if let Some(ca) = &self.oidc_ca {
                oidc.ca = Some(ca.clone());
            }
            api.oidc = Some(oidc);
        }
    }
}
