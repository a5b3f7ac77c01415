//! From a play's `load_balancer:` section to the managers it names. The
//! lifecycle is handed a [`ManagerFactory`], so its tests run against
//! simulated groups and a real run against ELBv2 or HAProxy.

use super::config::Manager;
use super::elbv2::{DESCRIBE_BURST, DESCRIBE_GAP, Elbv2, Pace};
use super::haproxy::{Address, Haproxy};
use super::{TrafficError, TrafficManager};
use crate::connection::Connection;
use async_trait::async_trait;
use std::sync::Arc;

#[async_trait]
pub trait ManagerFactory: Send + Sync {
    /// One manager per group the section names (target groups, the
    /// backend), each checked to exist.
    async fn managers(
        &self,
        manager: &Manager,
    ) -> Result<Vec<Arc<dyn TrafficManager>>, TrafficError>;
}

/// The real managers: ELBv2 through the AWS SDK, HAProxy through its
/// runtime API on the controller or on the `via` host.
pub struct LiveManagers {
    /// Opens a HAProxy socket on the controller.
    pub local: Arc<dyn Connection>,
    /// Opens it on the section's `via` host, when it names one.
    pub via: Option<Arc<dyn Connection>>,
}

#[async_trait]
impl ManagerFactory for LiveManagers {
    async fn managers(
        &self,
        manager: &Manager,
    ) -> Result<Vec<Arc<dyn TrafficManager>>, TrafficError> {
        match manager {
            Manager::Haproxy {
                socket,
                via,
                backend,
                ..
            } => {
                // Checked at load time; a rendered value is checked again here.
                let address = Address::parse(socket).map_err(|e| TrafficError::Setup(e.into()))?;
                let conn = match (via, &self.via) {
                    (Some(_), Some(conn)) => conn.clone(),
                    _ => self.local.clone(),
                };
                let haproxy = Haproxy::new(conn, address, backend).via(via.as_deref());
                Ok(vec![Arc::new(haproxy)])
            }
            Manager::Elbv2 { target_groups, .. } => {
                // One pace for every group of the play: Describe* stays
                // under ELBv2's rate whatever the number of groups.
                let pace = Arc::new(Pace::new(DESCRIBE_GAP, DESCRIBE_BURST));
                let mut groups: Vec<Arc<dyn TrafficManager>> = Vec::new();
                for name in target_groups {
                    groups.push(Arc::new(Elbv2::connect(name, pace.clone()).await?));
                }
                Ok(groups)
            }
        }
    }
}
