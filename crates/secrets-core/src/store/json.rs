//! JSON store (stub, being written).
use crate::error::Result;
use crate::tree::{Map, Value};

pub(crate) fn parse(_input: &[u8]) -> Result<Map> { todo!() }
pub(crate) fn emit(_doc: &Map, _indent: Option<usize>) -> Result<Vec<u8>> { todo!() }
pub(crate) fn emit_value(_value: &Value, _indent: Option<usize>) -> Result<Vec<u8>> { todo!() }
