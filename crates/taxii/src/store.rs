//! What the TAXII server keeps, as the storage layer defines it: the node's
//! store implements [`TaxiiStore`] in each database crate.

pub use detente_storage::taxii::*;
