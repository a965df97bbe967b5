pub mod bench;
pub mod log;
pub mod node;
