//! A detente node without its HTTP face: the data directory ([`datadir`]), its
//! configuration ([`config`]), the sequencer
//! that turns signed envelopes into durable, checkpointed log entries
//! ([`sequencer`]), the offline audit ([`audit`]) and the log benchmark ([`bench`]).

pub mod audit;
pub mod backend;
pub mod bench;
pub mod config;
pub mod datadir;
mod error;
pub mod evidence;
pub mod exchange;
pub mod guards;
pub mod migrate;
mod node;
pub mod notify;
pub mod outbound;
pub mod peer_status;
pub mod peers;
pub mod report;
pub mod sequencer;
pub mod views;
pub mod witnessing;

pub use config::Config;
pub use error::NodeError;
pub use node::{Appended, Metrics, Node, Published};
