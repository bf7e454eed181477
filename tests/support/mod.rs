//! Shared test support: test certificate authorities and, beside them, the fake
//! upstream index. Each integration test uses only part of it.
#![allow(dead_code)]

pub mod bandersnatch;
pub mod mirror;
pub mod served;
pub mod tls;
pub mod tools;
pub mod upstream;
pub mod wheel;
