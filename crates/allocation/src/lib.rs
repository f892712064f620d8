//! The allocation model and queries over it: the [`model`] every component shares (windows,
//! allocations, sets, efficiency), the [`assets`] model (nodes, disks, load balancers, cluster
//! management), [`idle`] from assets, aggregation [`key`]s as OpenCost's `GenerateKey`,
//! the full [`query`] with idle and sharing, the original [`aggregate`] (Kubecost's
//! `/model/allocation?aggregate=…&accumulate=true` over CPU and RAM), and output [`round`]ing.

pub mod aggregate;
pub mod assets;
pub mod idle;
pub mod key;
pub mod model;
pub mod query;
pub mod round;

pub use aggregate::{aggregate, parse_aggregate, Property, Row, UnknownAggregate};
pub use assets::{
    AssetSet, ClusterAssetTotals, ClusterManagementAsset, DiskAsset, LoadBalancerAsset, NodeAsset,
};
pub use idle::{check_balance, idle_allocations, Balance, IdleBy, IdleError, Imbalance};
pub use key::{
    generate_key, generate_key_into, parse_properties, sanitize, Aggregate, Alias, LabelConfig,
    UnknownProperty,
};
pub use model::{
    efficiency, pv_key, str_eq, Allocation, AllocationSet, Properties, PvAllocation, Window, WindowError,
    DAY_SECS, IDLE, SHARED, UNALLOCATED, UNMOUNTED,
};
pub use query::{query, QueryError, QueryOptions, ShareSplit};
pub use round::round;
