//! The five sops stores and how a file's store is chosen.

use std::fmt;
use std::path::Path;

/// A sops store (file format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// YAML, one or more documents.
    Yaml,
    /// JSON, one object.
    Json,
    /// dotenv `KEY=VALUE` lines.
    Dotenv,
    /// INI sections.
    Ini,
    /// Any other file: the raw bytes as one value.
    Binary,
}

impl Format {
    /// The store for a file name, by its extension as sops decides it:
    /// `.yaml`/`.yml`, `.json`, `.env`, `.ini`, anything else binary.
    pub fn from_path(path: &Path) -> Format {
        let name = path.to_string_lossy();
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            Format::Yaml
        } else if name.ends_with(".json") {
            Format::Json
        } else if name.ends_with(".env") {
            Format::Dotenv
        } else if name.ends_with(".ini") {
            Format::Ini
        } else {
            Format::Binary
        }
    }

    /// Parses a `--input-type`/`--output-type` name. sops silently falls back
    /// to the extension for unknown names; nsec reports them instead.
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "yaml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "dotenv" => Some(Format::Dotenv),
            "ini" => Some(Format::Ini),
            "binary" => Some(Format::Binary),
            _ => None,
        }
    }

    /// The store's name as sops spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
            Format::Binary => "binary",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
