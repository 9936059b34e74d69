//! Integration tests (core).

mod common;
