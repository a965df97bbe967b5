pub mod bench;
pub mod demo;
pub mod gate;
pub mod log;
pub mod node;
pub mod peer;
pub mod report;
