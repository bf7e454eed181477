//! Reading `vorpal.toml` into [`Config`], naming the key, value and what is allowed
//! on every mistake.

use super::options::{ConfigValue, Section};
use super::sections::{
    cross_checks, read_https, read_mirror, read_s3, read_serve, unknown_sections,
};
use super::*;
use toml::{Table, Value};

/// TOML's value rules: typed values, arrays for lists.
impl ConfigValue for Value {
    const BOOLEANS: &'static str = "true or false";

    fn literal(word: &str) -> String {
        format!("\"{word}\"")
    }

    fn shown(&self) -> String {
        self.to_string()
    }

    fn as_string(&self) -> Option<String> {
        self.as_str().map(str::to_string)
    }

    fn as_strings(&self) -> Option<Vec<String>> {
        match self {
            Value::String(s) => Some(s.split_whitespace().map(str::to_string).collect()),
            Value::Array(items) => items.iter().map(ConfigValue::as_string).collect(),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        Value::as_bool(self)
    }

    fn as_uint(&self) -> Option<u64> {
        self.as_integer().and_then(|i| u64::try_from(i).ok())
    }

    fn as_number(&self) -> Option<f64> {
        match self {
            Value::Integer(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// `[name]` of `root`; an absent section reads as empty.
fn section<'a>(
    file: &Path,
    root: &'a Table,
    name: &str,
) -> Result<Section<'a, Value>, ConfigError> {
    let table = match root.get(name) {
        None => None,
        Some(Value::Table(t)) => Some(t),
        Some(_) => {
            return Err(ConfigError::new(format!(
                "{}: [{name}] must be a table (a section), not a value",
                file.display()
            )));
        }
    };
    let entries = table.into_iter().flatten().map(|(k, v)| (k.as_str(), v));
    Ok(Section::new(file, name, entries))
}

/// Parse TOML text (already read from `path`, which is used in messages).
pub fn parse_toml(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let root: Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigError::new(format!(
            "{}: not valid TOML: {}",
            path.display(),
            e.to_string().trim()
        ))
    })?;
    let mut cfg = Config {
        source: Some(path.to_path_buf()),
        ..Config::default()
    };

    let mut m = section(path, &root, "mirror")?;
    let directory = m
        .path("directory")?
        .unwrap_or_else(|| MirrorConfig::default().directory);
    cfg.mirror = read_mirror(&mut m, directory)?;
    cfg.warnings.extend(m.finish());

    let mut h = section(path, &root, "https")?;
    cfg.https = read_https(&mut h)?;
    cfg.warnings.extend(h.finish());

    let mut s = section(path, &root, "serve")?;
    cfg.serve = read_serve(&mut s)?;
    cfg.warnings.extend(s.finish());

    if root.contains_key("s3") {
        let mut s3 = section(path, &root, "s3")?;
        cfg.s3 = Some(read_s3(&mut s3)?);
        cfg.warnings.extend(s3.finish());
    }

    let (filters, warnings) =
        filters::FilterConfig::from_sections(&filter_sections(path, &root)?, path)?;
    cfg.filters = filters;
    cfg.warnings.extend(warnings);

    let file = path.display().to_string();
    cfg.warnings.extend(cross_checks(&cfg, &file));
    cfg.warnings
        .extend(unknown_sections(&file, root.keys().map(String::as_str)));
    Ok(cfg)
}

/// The filter sections as plain text values: a list becomes one entry per line, numbers
/// and booleans their text, so TOML and INI share one filter reader.
fn filter_sections(path: &Path, root: &Table) -> Result<filters::SectionMap, ConfigError> {
    let mut out = filters::SectionMap::new();
    for name in filters::FILTER_SECTIONS {
        let Some(value) = root.get(*name) else {
            continue;
        };
        let Value::Table(table) = value else {
            return Err(ConfigError::new(format!(
                "{}: [{name}] must be a table (a section), not a value",
                path.display()
            )));
        };
        let mut options = std::collections::BTreeMap::new();
        for (key, v) in table {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Integer(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Boolean(b) => b.to_string(),
                Value::Array(items) => {
                    let mut lines = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            Value::String(s) => lines.push(s.clone()),
                            other => {
                                return Err(ConfigError::new(format!(
                                    "{}: [{name}] {key} = {other} is not valid; expected a string or a list of strings",
                                    path.display()
                                )));
                            }
                        }
                    }
                    lines.join("\n")
                }
                Value::Table(_) => {
                    return Err(ConfigError::new(format!(
                        "{}: [{name}] {key} is a table; quote keys that contain dots, e.g. \"{key}.field\" = [...]",
                        path.display()
                    )));
                }
                other => {
                    return Err(ConfigError::new(format!(
                        "{}: [{name}] {key} = {other} is not valid; expected a string, number, boolean or list of strings",
                        path.display()
                    )));
                }
            };
            options.insert(key.to_ascii_lowercase(), text);
        }
        out.insert(name.to_string(), options);
    }
    Ok(out)
}

/// Read and parse a `vorpal.toml`.
pub fn load_toml(path: &Path) -> Result<Config, ConfigError> {
    parse_toml(path, &read_text(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        parse_toml(Path::new("test.toml"), text)
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.mirror.master, "https://pypi.org");
        assert_eq!(c.mirror.api_method, ApiMethod::Simple);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn both_key_spellings_work() {
        let c = parse("[mirror]\nroot_uri = \"https://a\"\nhash-index = true\n").unwrap();
        assert_eq!(c.mirror.root_uri.as_deref(), Some("https://a"));
        assert!(c.mirror.hash_index);
    }

    #[test]
    fn bad_value_names_key_and_allowed() {
        let e = parse("[mirror]\napi-method = \"soap\"\n").unwrap_err().0;
        assert!(e.contains("api-method"), "{e}");
        assert!(e.contains("\"xmlrpc\""), "{e}");
    }

    #[test]
    fn unknown_keys_warn() {
        let c = parse("[mirror]\nworkerz = 3\n[extra]\n").unwrap();
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    }

    #[test]
    fn filter_sections() {
        let c = parse(
            "[plugins]\nenabled = [\"allowlist_project\"]\n[allowlist]\npackages = [\"Foo.Bar\", \"black>=25\"]\n[latest_release]\nkeep = 2\n",
        )
        .unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.filters.allowlist_packages, vec!["Foo.Bar", "black>=25"]);
        assert_eq!(c.filters.latest_keep, 2);
        let e = parse("[regex_release_file_metadata]\nrelease_file.filename = [\"x\"]\n")
            .unwrap_err()
            .0;
        assert!(e.contains("quote keys"), "{e}");
        let c = parse("[mirror]\nstorage-backend = \"s3\"\n[s3]\nregion_name = \"eu\"\n").unwrap();
        assert_eq!(c.mirror.storage_backend, StorageBackend::S3);
        assert_eq!(c.s3.unwrap().region_name.as_deref(), Some("eu"));
    }

    #[test]
    fn unknown_verify_value_is_absent_with_warning() {
        let c = parse("[https]\nverify = \"Enable\"\n").unwrap();
        assert_eq!(c.https.verify, None);
        assert_eq!(c.warnings.len(), 1);
    }
}
