//! Typed reads of one config section, shared by `vorpal.toml` and `bandersnatch.conf`:
//! key folding, which keys were used, warnings and error text live here once; what a
//! value may look like (TOML types, ConfigParser strings) is each format's
//! [`ConfigValue`].

use std::fmt::Display;
use std::path::{Path, PathBuf};

use super::{ConfigError, Named};

/// One file format's value rules: how a raw value reads as each type, `None` when it
/// does not (the section then reports the value and what is allowed).
pub(crate) trait ConfigValue {
    /// How a boolean is written in this format, for messages.
    const BOOLEANS: &'static str;
    /// `word` written as this format writes a string, for "expected one of" lists.
    fn literal(word: &str) -> String;
    /// The value as the user wrote it, for messages.
    fn shown(&self) -> String;
    fn as_string(&self) -> Option<String>;
    /// A list: the format's list form, or one string of whitespace-separated entries.
    fn as_strings(&self) -> Option<Vec<String>>;
    fn as_bool(&self) -> Option<bool>;
    fn as_uint(&self) -> Option<u64>;
    fn as_number(&self) -> Option<f64>;
}

/// Fold `_` into `-` so bandersnatch's mixed spellings (`root_uri`, `hash-index`) both work.
pub(crate) fn norm_key(k: &str) -> String {
    k.trim().to_ascii_lowercase().replace('_', "-")
}

/// A typed reader over one section that records which keys were used.
pub(crate) struct Section<'a, V: ConfigValue + ?Sized> {
    file: String,
    name: String,
    /// (key as written, folded key, value)
    entries: Vec<(&'a str, String, &'a V)>,
    used: Vec<bool>,
    warnings: Vec<String>,
}

impl<'a, V: ConfigValue + ?Sized> Section<'a, V> {
    pub(crate) fn new(
        file: &Path,
        name: &str,
        entries: impl IntoIterator<Item = (&'a str, &'a V)>,
    ) -> Self {
        let entries: Vec<_> = entries
            .into_iter()
            .map(|(k, v)| (k, norm_key(k), v))
            .collect();
        let used = vec![false; entries.len()];
        Self {
            file: file.display().to_string(),
            name: name.to_string(),
            entries,
            used,
            warnings: Vec::new(),
        }
    }

    fn take(&mut self, key: &str) -> Option<&'a V> {
        let spellings: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.entries[i].1 == key)
            .collect();
        let &last = spellings.last()?;
        for &i in &spellings {
            self.used[i] = true;
        }
        if spellings.len() > 1 {
            let names: Vec<&str> = spellings.iter().map(|&i| self.entries[i].0).collect();
            let chosen = self.entries[last].0;
            self.warn(format!(
                "{key} is set more than once ({}); {chosen} is used",
                names.join(", ")
            ));
        }
        Some(self.entries[last].2)
    }

    /// `[section] key = value is not valid; expected allowed`.
    pub(crate) fn invalid(&self, key: &str, value: &V, allowed: &str) -> ConfigError {
        ConfigError::new(format!(
            "{}: [{}] {} = {} is not valid; expected {}",
            self.file,
            self.name,
            key,
            value.shown(),
            allowed
        ))
    }

    /// Read `key` with `read`; a value it rejects is an error naming `allowed`.
    fn read<T>(
        &mut self,
        key: &str,
        allowed: impl FnOnce() -> String,
        read: impl FnOnce(&V) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => read(v)
                .map(Some)
                .ok_or_else(|| self.invalid(key, v, &allowed())),
        }
    }

    pub(crate) fn string(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        self.read(key, || "a string".into(), V::as_string)
    }

    /// A string where empty means unset.
    pub(crate) fn text(&mut self, key: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.string(key)?.filter(|s| !s.is_empty()))
    }

    pub(crate) fn path(&mut self, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        Ok(self.text(key)?.map(PathBuf::from))
    }

    pub(crate) fn strings(&mut self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        self.read(key, || "a list of strings".into(), V::as_strings)
    }

    pub(crate) fn bool(&mut self, key: &str) -> Result<Option<bool>, ConfigError> {
        self.read(key, || V::BOOLEANS.into(), V::as_bool)
    }

    pub(crate) fn uint(
        &mut self,
        key: &str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, ConfigError> {
        self.read(
            key,
            || format!("a whole number from {min} to {max}"),
            |v| v.as_uint().filter(|n| (min..=max).contains(n)),
        )
    }

    pub(crate) fn seconds(&mut self, key: &str) -> Result<Option<f64>, ConfigError> {
        self.read(
            key,
            || "a positive number of seconds".into(),
            |v| v.as_number().filter(|n| n.is_finite() && *n > 0.0),
        )
    }

    /// One of `options` by name, case-insensitive.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        key: &str,
        options: &[(&str, T)],
    ) -> Result<Option<T>, ConfigError> {
        let allowed = || {
            let names: Vec<String> = options.iter().map(|(n, _)| V::literal(n)).collect();
            format!("one of {}", names.join(", "))
        };
        self.read(key, allowed, |v| {
            let s = v.as_string()?;
            options
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(s.trim()))
                .map(|(_, t)| *t)
        })
    }

    /// A [`Named`] setting, its default when unset.
    pub(crate) fn named<T: Named + Default>(&mut self, key: &str) -> Result<T, ConfigError> {
        Ok(self.choice(key, T::NAMES)?.unwrap_or_default())
    }

    /// Record `{file}: [{section}] {message}`.
    pub(crate) fn warn(&mut self, message: impl Display) {
        self.warnings
            .push(format!("{}: [{}] {message}", self.file, self.name));
    }

    /// The warnings recorded, then one for every key nobody asked for.
    pub(crate) fn finish(self) -> Vec<String> {
        let Section {
            file,
            name,
            entries,
            used,
            mut warnings,
        } = self;
        for ((written, _, _), _) in entries.iter().zip(used).filter(|(_, used)| !used) {
            warnings.push(format!("{file}: unknown key [{name}] {written} is ignored"));
        }
        warnings
    }
}
