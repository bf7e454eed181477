//! Group commit for project state: jobs hand their commits to one thread, which
//! writes everything waiting in a single transaction. Per-project transactions
//! rewrote the same B-tree pages thousands of times in a full sync; a batch writes
//! each page once, and the jobs await the answer instead of blocking the runtime's
//! threads on the database lock.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::StateError;
use super::db::{ProjectCommit, StateDb};

/// Most commits in one transaction; bounds the time any one job waits.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Vec<String>, StateError>>;

/// The sending side; the writer thread ends when this is dropped.
#[derive(Debug)]
pub struct CommitQueue {
    sender: mpsc::UnboundedSender<(ProjectCommit, Reply)>,
    path: PathBuf,
}

impl CommitQueue {
    pub fn start(db: Arc<StateDb>) -> CommitQueue {
        let (sender, receiver) = mpsc::unbounded_channel();
        let path = db.path().to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("vorpal-state".into())
            .spawn(move || write_loop(&db, receiver));
        // Without the thread the receiver is gone, so every commit fails with a
        // clear error instead of hanging.
        if let Err(e) = spawned {
            tracing::error!("cannot start the state writer: {e}");
        }
        CommitQueue { sender, path }
    }

    /// Commit one project (see [`StateDb::commit_project`]); returns the keys it no
    /// longer owns.
    pub async fn commit(&self, commit: ProjectCommit) -> Result<Vec<String>, StateError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || {
            let why = std::io::Error::other("its writer thread stopped; rerun the sync");
            StateError::io("commit to", &self.path, why)
        };
        self.sender.send((commit, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn write_loop(db: &StateDb, mut receiver: mpsc::UnboundedReceiver<(ProjectCommit, Reply)>) {
    while let Some(first) = receiver.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (commits, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        match db.commit_projects(&commits) {
            Ok(dropped) => {
                for (reply, keys) in replies.into_iter().zip(dropped) {
                    let _ = reply.send(Ok(keys));
                }
            }
            // One bad commit must not fail the others: redo them one by one so
            // each job gets its own answer.
            Err(_) => {
                for (commit, reply) in commits.iter().zip(replies) {
                    let result = db
                        .commit_projects(std::slice::from_ref(commit))
                        .map(|mut d| d.pop().unwrap_or_default());
                    let _ = reply.send(result);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::state::{FileKind, FileRecord, ProjectRecord};

    fn commit(name: &str, key: &str) -> ProjectCommit {
        ProjectCommit {
            record: ProjectRecord {
                name: name.into(),
                display_name: name.into(),
                serial: 7,
                status: None,
            },
            files: vec![FileRecord {
                key: key.into(),
                project: String::new(),
                kind: FileKind::Dist,
                size: 3,
                sha256: "ab".repeat(32),
                upload_time: None,
            }],
            journal: Vec::new(),
            plan_done: true,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_all_land_with_their_own_answers() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(StateDb::open(dir.path()).unwrap());
        let names: Vec<String> = (0..50).map(|i| format!("p{i}")).collect();
        db.save_plan(9, &names.iter().map(|n| (n.clone(), 7)).collect::<Vec<_>>())
            .unwrap();
        let old = commit("p0", "web/packages/old");
        db.commit_project(&old.record, &old.files, &[]).unwrap();
        let queue = Arc::new(CommitQueue::start(db.clone()));
        let jobs: Vec<_> = names
            .iter()
            .map(|n| {
                let (q, c) = (queue.clone(), commit(n, &format!("web/packages/{n}")));
                tokio::spawn(async move { q.commit(c).await })
            })
            .collect();
        let mut answers = Vec::new();
        for j in jobs {
            answers.push(j.await.unwrap().unwrap());
        }
        assert_eq!(answers[0], vec!["web/packages/old".to_string()]);
        assert!(answers[1..].iter().all(Vec::is_empty));
        assert_eq!(db.project_count().unwrap(), 50);
        assert_eq!(db.file_count().unwrap(), 50);
        assert!(
            db.plan_pending().unwrap().is_empty(),
            "plan entries marked done"
        );
    }
}
