//! Shared test support: test certificate authorities and, beside them, the fake
//! upstream index. Each integration test uses only part of it.
#![allow(dead_code)]

pub mod tls;
pub mod upstream;
pub mod wheel;
