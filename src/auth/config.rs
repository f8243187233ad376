//! The `auth` section of the configuration file (docs: `conf/README.md`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub secret_file: Option<PathBuf>,
    pub access_ttl_s: u64,
    pub refresh_ttl_s: u64,
    /// PBKDF2 iterations of new hashes; `None`: calibrated at first start (auth::cost).
    pub pbkdf2_iterations: Option<u32>,
    /// Failed logins of one account from one address before throttling.
    pub throttle_free_attempts: u32,
    /// Longest wait a throttled client is told to take.
    pub throttle_max_delay_s: u64,
    /// Password checks (logins, `current_password`) started per second at most,
    /// over all clients: what bounds guessing from many addresses.
    pub password_checks_per_s: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            secret_file: None,
            access_ttl_s: 900,
            refresh_ttl_s: 30 * 24 * 3600,
            pbkdf2_iterations: None,
            throttle_free_attempts: 5,
            throttle_max_delay_s: 900,
            password_checks_per_s: 10,
        }
    }
}

impl AuthConfig {
    /// What serde cannot check, each problem naming its key path.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.pbkdf2_iterations.is_some_and(|n| n < 1000) {
            problems.push("auth.pbkdf2_iterations: must be at least 1000".into());
        }
        if self.password_checks_per_s == 0 {
            problems.push("auth.password_checks_per_s: must be above 0".into());
        }
        if self.access_ttl_s == 0 || self.refresh_ttl_s < self.access_ttl_s {
            problems.push(
                "auth.access_ttl_s/refresh_ttl_s: both above 0, refresh at least as long as access"
                    .into(),
            );
        }
        problems
    }
}
