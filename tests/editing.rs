//! Integration tests (editing).

mod common;
