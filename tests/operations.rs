//! Integration tests (operations).

mod common;
