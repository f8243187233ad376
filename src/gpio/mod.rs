//! GPIO through the kernel's character device. Filled in by the GPIO work.

pub mod config;
