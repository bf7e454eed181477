//! Group commit for project state: jobs hand their commits to one thread, which
//! writes everything waiting in a single transaction. Per-project transactions
//! rewrote the same B-tree pages thousands of times in a full sync; a batch writes
//! each page once, and the jobs await the answer instead of blocking the runtime's
//! threads on the database lock.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::StateError;
use super::db::{ProjectCommit, StateDb};

/// Most commits in one transaction; bounds the time any one job waits.
const MAX_BATCH: usize = 256;

/// How long the writer holds a batch open for commits that jobs have announced
/// (their files are being published) but not yet sent. The file keys are random,
/// so every commit touches its own index pages: a batch twice as large writes
/// close to half the pages per project. The wait ends as soon as no announced
/// commit is outstanding, so the last project of a run never waits for nothing.
const GATHER: Duration = Duration::from_millis(40);

type Reply = oneshot::Sender<Result<Vec<String>, StateError>>;

/// The sending side; the writer thread ends when this is dropped.
#[derive(Debug)]
pub struct CommitQueue {
    sender: mpsc::Sender<(ProjectCommit, Reply)>,
    announced: Arc<AtomicUsize>,
    counts: Arc<Counts>,
    path: Arc<Path>,
}

/// What the writer has done, for the run's debug log and the tests.
#[derive(Debug, Default)]
struct Counts {
    commits: AtomicU64,
    transactions: AtomicU64,
}

/// A commit that will come: held by a job from the end of its downloads until its
/// commit is queued (or the job fails, dropping it).
#[derive(Debug)]
pub struct Announced(Arc<AtomicUsize>);

impl Drop for Announced {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl CommitQueue {
    pub fn start(db: Arc<StateDb>) -> CommitQueue {
        let (sender, receiver) = mpsc::channel();
        let announced = Arc::new(AtomicUsize::new(0));
        let path: Arc<Path> = Arc::from(db.path());
        let outstanding = announced.clone();
        let counts = Arc::new(Counts::default());
        let tally = counts.clone();
        let spawned = std::thread::Builder::new()
            .name("vorpal-state".into())
            .spawn(move || write_loop(&db, &receiver, &outstanding, &tally));
        // Without the thread the receiver is gone, so every commit fails with a
        // clear error instead of hanging.
        if let Err(e) = spawned {
            tracing::error!("cannot start the state writer: {e}");
        }
        CommitQueue {
            sender,
            announced,
            counts,
            path,
        }
    }

    /// (project commits written, transactions they took).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.counts.commits.load(Ordering::Acquire),
            self.counts.transactions.load(Ordering::Acquire),
        )
    }

    /// Tell the writer a commit is on its way, so a batch may wait for it.
    pub fn announce(&self) -> Announced {
        self.announced.fetch_add(1, Ordering::AcqRel);
        Announced(self.announced.clone())
    }

    /// Hand one project's commit (see [`StateDb::commit_project`]) to the writer;
    /// the answer comes later. A job can let go of what it holds (its place among
    /// the projects in memory) while the batch it joined is written. `announced` is
    /// released once the commit is queued.
    pub fn queue(
        &self,
        commit: ProjectCommit,
        announced: Option<Announced>,
    ) -> Result<QueuedCommit, StateError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((commit, reply))
            .map_err(|_| writer_stopped(&self.path))?;
        drop(announced);
        Ok(QueuedCommit {
            answer,
            path: Arc::clone(&self.path),
        })
    }
}

/// A commit in the writer's queue.
#[derive(Debug)]
pub struct QueuedCommit {
    answer: oneshot::Receiver<Result<Vec<String>, StateError>>,
    path: Arc<Path>,
}

impl QueuedCommit {
    /// Wait until the commit is written; returns the keys the project no longer owns.
    pub async fn outcome(self) -> Result<Vec<String>, StateError> {
        self.answer.await.map_err(|_| writer_stopped(&self.path))?
    }
}

fn writer_stopped(path: &Path) -> StateError {
    let why = std::io::Error::other("its writer thread stopped; rerun the sync");
    StateError::io("commit to", path, why)
}

fn write_loop(
    db: &StateDb,
    receiver: &mpsc::Receiver<(ProjectCommit, Reply)>,
    announced: &AtomicUsize,
    counts: &Counts,
) {
    while let Ok(first) = receiver.recv() {
        let deadline = Instant::now() + GATHER;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            if let Ok(next) = receiver.try_recv() {
                batch.push(next);
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || announced.load(Ordering::Acquire) == 0 {
                break;
            }
            // Short naps so that the batch closes soon after the last announced
            // commit arrives, even when the count drops while we sleep.
            match receiver.recv_timeout(left.min(Duration::from_millis(2))) {
                Ok(next) => batch.push(next),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let (commits, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        match db.commit_projects(&commits) {
            Ok(dropped) => {
                counts.transactions.fetch_add(1, Ordering::AcqRel);
                counts
                    .commits
                    .fetch_add(commits.len() as u64, Ordering::AcqRel);
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
                tokio::spawn(async move { q.queue(c, None)?.outcome().await })
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn announced_commits_share_a_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(StateDb::open(dir.path()).unwrap());
        let queue = Arc::new(CommitQueue::start(db.clone()));
        // Three jobs start publishing together and commit a moment apart.
        let jobs: Vec<_> = (0..3u64)
            .map(|i| {
                let announced = queue.announce();
                let q = queue.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(2 * i)).await;
                    let c = commit(&format!("p{i}"), &format!("web/packages/p{i}"));
                    q.queue(c, Some(announced))?.outcome().await
                })
            })
            .collect();
        for j in jobs {
            j.await.unwrap().unwrap();
        }
        let (commits, transactions) = queue.counts();
        assert_eq!(commits, 3);
        assert!(
            transactions < 3,
            "each commit took its own transaction although all were announced"
        );
        assert_eq!(db.project_count().unwrap(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queueing_returns_before_the_batch_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(StateDb::open(dir.path()).unwrap());
        let queue = CommitQueue::start(db.clone());
        // Another job's announced commit holds the batch open.
        let other = queue.announce();
        let queued = queue
            .queue(commit("p", "web/packages/p"), None)
            .expect("queued without waiting for the writer");
        drop(other);
        assert!(queued.outcome().await.unwrap().is_empty());
        assert_eq!(db.project_count().unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_that_never_comes_delays_the_others_only_briefly() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(StateDb::open(dir.path()).unwrap());
        let queue = CommitQueue::start(db.clone());
        // A job announced its commit and is stuck (or failed without dropping it
        // yet): the batch closes at the end of the gather window anyway.
        let stuck = queue.announce();
        let started = Instant::now();
        queue
            .queue(commit("p", "web/packages/p"), None)
            .unwrap()
            .outcome()
            .await
            .unwrap();
        let waited = started.elapsed();
        assert!(waited >= GATHER, "the batch did not wait: {waited:?}");
        assert!(waited < GATHER + Duration::from_secs(2), "{waited:?}");
        // A job that fails drops its announcement: nobody waits for it.
        drop(queue.announce());
        drop(stuck);
        let started = Instant::now();
        for i in 0..5 {
            let c = commit(&format!("q{i}"), &format!("web/packages/q{i}"));
            queue.queue(c, None).unwrap().outcome().await.unwrap();
        }
        let took = started.elapsed();
        assert!(took < 5 * GATHER, "commits waited for nothing: {took:?}");
        assert_eq!(queue.counts(), (6, 6));
    }
}
