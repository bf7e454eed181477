//! PyPI's legacy XML-RPC API for downstream mirrors, answered from the mirror's own
//! state: `list_packages_with_serial`, `changelog_last_serial` and
//! `changelog_since_serial` come from the state database's projects and journal.
//! A tree without a database (e.g. written by bandersnatch) still lists its projects
//! from `web/simple/index.v1_json`, but has no changelog to offer.
//!
//! The changelog and the listed serials are cut at the serial of the last completed
//! sync, so a follower never skips entries that a sync still in progress has not
//! committed yet.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;

use super::XmlRpcHandler;
use crate::index::xmlrpc::{Value, decode_call, encode_fault, encode_response};
use crate::sync::state::db::{DB_DIR, DB_FILE, META_LAST_SERIAL};
use crate::sync::state::{StateDb, StateError};

/// Most changelog rows one call returns (PyPI's cap); callers loop until empty.
pub const CHANGELOG_CAP: usize = 50_000;

/// XML-RPC fault codes (the xmlrpc-epi conventions PyPI also uses).
pub const FAULT_PARSE: i64 = -32700;
pub const FAULT_METHOD_NOT_FOUND: i64 = -32601;
pub const FAULT_INVALID_PARAMS: i64 = -32602;
pub const FAULT_INTERNAL: i64 = -32603;
/// The mirror cannot answer this call (no journal). Deliberately not -32500, which
/// PyPI uses for rate limiting and clients answer by retrying.
pub const FAULT_UNAVAILABLE: i64 = -32001;

/// Answers XML-RPC from `<directory>/.vorpal/state.sqlite`, or from the root index
/// when the tree has no state database.
#[derive(Clone)]
pub struct JournalXmlRpc {
    inner: Arc<Inner>,
}

struct Inner {
    directory: PathBuf,
    /// Opened on first use, so a server started before the first sync picks it up.
    db: Mutex<Option<Arc<StateDb>>>,
}

/// A fault to send back.
struct Fault(i64, String);

impl From<StateError> for Fault {
    fn from(e: StateError) -> Fault {
        Fault(FAULT_INTERNAL, format!("mirror state unreadable: {e}"))
    }
}

impl JournalXmlRpc {
    pub fn new(directory: impl Into<PathBuf>) -> JournalXmlRpc {
        JournalXmlRpc {
            inner: Arc::new(Inner {
                directory: directory.into(),
                db: Mutex::new(None),
            }),
        }
    }

    /// The response document (a result or a fault) for one request body. Blocking:
    /// it reads SQLite and files.
    pub fn answer(&self, body: &[u8]) -> String {
        match self.inner.call(body) {
            Ok(v) => encode_response(&v),
            Err(Fault(code, msg)) => encode_fault(code, &msg),
        }
    }
}

impl XmlRpcHandler for JournalXmlRpc {
    fn handle(&self, body: Bytes) -> BoxFuture<'static, Result<String, String>> {
        let this = self.clone();
        Box::pin(async move {
            // rusqlite blocks; keep it off the async workers.
            tokio::task::spawn_blocking(move || this.answer(&body))
                .await
                .map_err(|e| format!("XML-RPC worker failed: {e}"))
        })
    }
}

impl Inner {
    fn call(&self, body: &[u8]) -> Result<Value, Fault> {
        let (method, params) = decode_call(body)
            .map_err(|e| Fault(FAULT_PARSE, format!("cannot read the call: {e}")))?;
        match method.as_str() {
            "list_packages_with_serial" => self.list_packages_with_serial(),
            "changelog_last_serial" => self.changelog_last_serial().map(int),
            "changelog_since_serial" => {
                let since = match params.first() {
                    Some(Value::Int(n)) => u64::try_from(*n).unwrap_or(0),
                    _ => {
                        return Err(Fault(
                            FAULT_INVALID_PARAMS,
                            "changelog_since_serial takes one int: the serial to start after"
                                .into(),
                        ));
                    }
                };
                self.changelog_since_serial(since)
            }
            other => Err(Fault(
                FAULT_METHOD_NOT_FOUND,
                format!(
                    "method not found: {other:?}; this mirror answers list_packages_with_serial, \
                     changelog_last_serial and changelog_since_serial (use the JSON API \
                     /pypi/<project>/json for project data)"
                ),
            )),
        }
    }

    fn db(&self) -> Result<Option<Arc<StateDb>>, StateError> {
        let mut slot = self.db.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(db) = slot.as_ref() {
            return Ok(Some(db.clone()));
        }
        // Never create one: serving must not turn a bandersnatch tree into a vorpal one.
        if !self.directory.join(DB_DIR).join(DB_FILE).is_file() {
            return Ok(None);
        }
        let db = Arc::new(StateDb::open(&self.directory)?);
        *slot = Some(db.clone());
        Ok(Some(db))
    }

    fn list_packages_with_serial(&self) -> Result<Value, Fault> {
        let members = match self.db()? {
            Some(db) => {
                // Capped like the changelog: a follower takes the highest listed serial
                // as its own, and must not skip entries a running sync commits later.
                let upto = completed_serial(&db)?;
                db.projects()?
                    .into_iter()
                    .map(|p| (p.display_name, int(p.serial.min(upto))))
                    .collect()
            }
            None => {
                let root = self.root_index()?;
                root.get("projects")
                    .and_then(serde_json::Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| {
                        let name = p.get("name")?.as_str()?.to_string();
                        // bandersnatch writes no per-project serial: 0 means "unknown".
                        let serial = p.get("_last-serial").and_then(json_serial).unwrap_or(0);
                        Some((name, int(serial)))
                    })
                    .collect()
            }
        };
        Ok(Value::Struct(members))
    }

    /// The serial of the last completed sync; without a database the root index's
    /// `_last-serial`, else bandersnatch's `status` file.
    fn changelog_last_serial(&self) -> Result<u64, Fault> {
        match self.db()? {
            Some(db) => Ok(completed_serial(&db)?),
            None => {
                let from_root = self
                    .root_index()
                    .ok()
                    .and_then(|r| r.get("meta")?.get("_last-serial").and_then(json_serial));
                Ok(from_root
                    .or_else(|| status_serial(&self.directory))
                    .unwrap_or(0))
            }
        }
    }

    fn changelog_since_serial(&self, since: u64) -> Result<Value, Fault> {
        let Some(db) = self.db()? else {
            return Err(Fault(
                FAULT_UNAVAILABLE,
                "this mirror tree has no change journal (no .vorpal/state.sqlite; it was not \
                 written by vorpal sync), so it cannot answer changelog_since_serial; mirror \
                 it with api-method = simple, or compare list_packages_with_serial"
                    .into(),
            ));
        };
        let upto = completed_serial(&db)?;
        let rows = db
            .journal_since(since, CHANGELOG_CAP)?
            .into_iter()
            .filter(|j| j.serial <= upto)
            .map(|j| {
                Value::Array(vec![
                    Value::Str(j.name),
                    j.version.map_or(Value::Nil, Value::Str),
                    Value::Int(j.timestamp),
                    Value::Str(j.action),
                    int(j.serial),
                ])
            })
            .collect();
        Ok(Value::Array(rows))
    }

    fn root_index(&self) -> Result<serde_json::Value, Fault> {
        let path = self.directory.join("web/simple/index.v1_json");
        let bytes = std::fs::read(&path).map_err(|e| {
            Fault(
                FAULT_INTERNAL,
                format!(
                    "cannot read {}: {e}; the mirror has not written its root index yet",
                    path.display()
                ),
            )
        })?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Fault(
                FAULT_INTERNAL,
                format!("{} is not valid JSON: {e}", path.display()),
            )
        })
    }
}

/// The last completed sync's serial; before any completed sync, the newest journal entry.
fn completed_serial(db: &StateDb) -> Result<u64, StateError> {
    if let Some(s) = db
        .get_meta(META_LAST_SERIAL)?
        .and_then(|v| v.trim().parse().ok())
    {
        return Ok(s);
    }
    Ok(db.max_journal_serial()?.unwrap_or(0))
}

fn status_serial(directory: &Path) -> Option<u64> {
    std::fs::read_to_string(directory.join("status"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Serials are ints, or strings in bandersnatch's root index.
fn json_serial(v: &serde_json::Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn int(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::xmlrpc::{
        XmlRpcError, decode_changelog, decode_int, decode_list_packages_with_serial,
        decode_response, encode_call,
    };
    use crate::sync::state::{JournalEntry, ProjectRecord};

    fn call(h: &JournalXmlRpc, method: &str, params: &[Value]) -> Result<Value, XmlRpcError> {
        decode_response(h.answer(encode_call(method, params).as_bytes()).as_bytes())
    }

    fn fault_code(r: Result<Value, XmlRpcError>) -> i64 {
        match r {
            Err(XmlRpcError::Fault { code, .. }) => code,
            other => panic!("expected a fault, got {other:?}"),
        }
    }

    fn journal(serial: u64, name: &str, version: Option<&str>, action: &str) -> JournalEntry {
        JournalEntry {
            serial,
            name: name.into(),
            version: version.map(str::to_string),
            action: action.into(),
            timestamp: 1_700_000_000 + serial as i64,
        }
    }

    fn project(name: &str, display: &str, serial: u64) -> ProjectRecord {
        ProjectRecord {
            name: name.into(),
            display_name: display.into(),
            serial,
            status: None,
        }
    }

    /// A state database with two projects and five journal entries, completed at 7.
    fn with_state() -> (tempfile::TempDir, JournalXmlRpc) {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(dir.path()).unwrap();
        db.commit_project(
            &project("foo-bar", "Foo.Bar", 5),
            &[],
            &[
                journal(3, "Foo.Bar", None, "create"),
                journal(5, "Foo.Bar", Some("1.0"), "add file foo_bar-1.0.tar.gz"),
            ],
        )
        .unwrap();
        db.commit_project(
            &project("six", "six", 7),
            &[],
            &[
                journal(6, "six", None, "create"),
                journal(7, "six", Some("1.16"), "add file six-1.16.tar.gz"),
            ],
        )
        .unwrap();
        db.set_meta(META_LAST_SERIAL, "7").unwrap();
        // Committed by a sync still running: not part of the changelog yet.
        db.commit_project(
            &project("late", "Late", 9),
            &[],
            &[journal(9, "Late", None, "create")],
        )
        .unwrap();
        drop(db);
        let h = JournalXmlRpc::new(dir.path());
        (dir, h)
    }

    #[test]
    fn lists_projects_with_display_names_and_serials() {
        let (_dir, h) = with_state();
        let list =
            decode_list_packages_with_serial(call(&h, "list_packages_with_serial", &[]).unwrap())
                .unwrap();
        let got: Vec<(String, u64)> = list.into_iter().map(|p| (p.name, p.serial)).collect();
        // Late was committed by an unfinished sync: listed at the completed serial.
        assert_eq!(
            got,
            [("Foo.Bar".into(), 5), ("Late".into(), 7), ("six".into(), 7)]
        );
    }

    #[test]
    fn changelog_is_ascending_and_stops_at_the_completed_serial() {
        let (_dir, h) = with_state();
        assert_eq!(
            decode_int(call(&h, "changelog_last_serial", &[]).unwrap()).unwrap(),
            7
        );
        let rows = decode_changelog(call(&h, "changelog_since_serial", &[Value::Int(3)]).unwrap())
            .unwrap();
        let got: Vec<(u64, &str, Option<&str>)> = rows
            .iter()
            .map(|r| (r.serial, r.name.as_str(), r.version.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (5, "Foo.Bar", Some("1.0")),
                (6, "six", None),
                (7, "six", Some("1.16"))
            ]
        );
        assert_eq!(rows[0].action, "add file foo_bar-1.0.tar.gz");
        assert_eq!(rows[0].timestamp, 1_700_000_005);
        let rows = decode_changelog(call(&h, "changelog_since_serial", &[Value::Int(7)]).unwrap())
            .unwrap();
        assert!(rows.is_empty(), "{rows:?}");
    }

    #[test]
    fn other_methods_and_bad_calls_are_faults() {
        let (_dir, h) = with_state();
        assert_eq!(
            fault_code(call(&h, "package_releases", &[Value::Str("six".into())])),
            FAULT_METHOD_NOT_FOUND
        );
        assert_eq!(
            fault_code(call(&h, "changelog_since_serial", &[])),
            FAULT_INVALID_PARAMS
        );
        assert_eq!(
            fault_code(call(
                &h,
                "changelog_since_serial",
                &[Value::Str("1".into())]
            )),
            FAULT_INVALID_PARAMS
        );
        let r = decode_response(h.answer(b"<methodCall><nope").as_bytes());
        assert_eq!(fault_code(r), FAULT_PARSE);
    }

    #[test]
    fn bandersnatch_tree_lists_from_the_root_index_and_has_no_changelog() {
        let dir = tempfile::tempdir().unwrap();
        let simple = dir.path().join("web/simple");
        std::fs::create_dir_all(&simple).unwrap();
        std::fs::write(
            simple.join("index.v1_json"),
            r#"{"meta":{"api-version":"1.1","_last-serial":"42"},
                "projects":[{"name":"Foo.Bar","_last-serial":40},{"name":"six"}]}"#,
        )
        .unwrap();
        let h = JournalXmlRpc::new(dir.path());
        let list =
            decode_list_packages_with_serial(call(&h, "list_packages_with_serial", &[]).unwrap())
                .unwrap();
        let got: Vec<(String, u64)> = list.into_iter().map(|p| (p.name, p.serial)).collect();
        assert_eq!(got, [("Foo.Bar".into(), 40), ("six".into(), 0)]);
        assert_eq!(
            decode_int(call(&h, "changelog_last_serial", &[]).unwrap()).unwrap(),
            42
        );
        match call(&h, "changelog_since_serial", &[Value::Int(0)]) {
            Err(XmlRpcError::Fault { code, message }) => {
                assert_eq!(code, FAULT_UNAVAILABLE);
                assert!(message.contains("no change journal"), "{message}");
            }
            other => panic!("expected a fault, got {other:?}"),
        }
        assert!(
            !dir.path().join(DB_DIR).exists(),
            "serving must not create a state database"
        );
    }

    #[tokio::test]
    async fn handler_runs_off_the_async_workers() {
        let (_dir, h) = with_state();
        let body = Bytes::from(encode_call("changelog_last_serial", &[]));
        let xml = h.handle(body).await.unwrap();
        assert_eq!(
            decode_int(decode_response(xml.as_bytes()).unwrap()).unwrap(),
            7
        );
    }
}
