//! YAML store (stub, being written).
use crate::error::Result;
use crate::tree::{Map, Value};

pub(crate) fn parse(_input: &[u8]) -> Result<Vec<Map>> {
    todo!()
}
pub(crate) fn emit(_docs: &[Map], _indent: usize) -> Result<Vec<u8>> {
    todo!()
}
pub(crate) fn emit_value(_value: &Value, _indent: usize) -> Result<Vec<u8>> {
    todo!()
}
