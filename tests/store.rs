//! Integration tests (store).

mod common;
