//! The allocation model and queries over it: the [`model`] every component shares (windows,
//! allocations, sets, efficiency), [`aggregate`] as Kubecost's
//! `/model/allocation?aggregate=…&accumulate=true` does it, and the output [`round`]ing.

pub mod aggregate;
pub mod model;
pub mod round;

pub use aggregate::{aggregate, parse_aggregate, Property, Row, UnknownAggregate};
pub use model::{efficiency, Allocation, AllocationSet, Properties, Window};
pub use round::round;
