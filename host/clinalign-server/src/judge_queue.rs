//! The judge behind the service: one bounded queue that responses from every request join,
//! drained by judge workers that batch what arrives within a short window and grade the
//! responses to one conversation together ([`Judge::grade_group`], which the local judge turns
//! into shared prefixes). A full queue refuses new work at once rather than letting it wait
//! without bound.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clinalign::{ConversationGroup, Grade, Judge, Message, ModelError, RubricEntry};
use tokio::sync::oneshot;

use crate::metrics::Metrics;

/// Most responses one batch takes.
const MAX_BATCH: usize = 64;

/// One response to grade.
struct Job {
    conversation: Arc<Vec<Message>>,
    /// Identifies the conversation: jobs with equal keys are graded as one group.
    key: Arc<str>,
    response: String,
    items: Vec<RubricEntry>,
    reply: oneshot::Sender<Result<Vec<Grade>, String>>,
}

/// Why a response could not be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The queue is full.
    Full,
    /// The workers are gone (the server is stopping).
    Closed,
}

/// A handle to the queue; cheap to clone.
#[derive(Clone)]
pub struct JudgeQueue {
    tx: SyncSender<Job>,
    name: Arc<str>,
    metrics: Arc<Metrics>,
}

impl JudgeQueue {
    /// Starts `workers` threads grading with `judge`; at most `capacity` responses wait.
    pub fn start(
        judge: Arc<dyn Judge>,
        workers: usize,
        capacity: usize,
        window: Duration,
        metrics: Arc<Metrics>,
    ) -> JudgeQueue {
        let (tx, rx) = sync_channel::<Job>(capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers.max(1) {
            let (judge, rx, metrics) = (judge.clone(), rx.clone(), metrics.clone());
            std::thread::Builder::new()
                .name(format!("judge-{i}"))
                .spawn(move || work(&*judge, &rx, window, &metrics))
                .expect("a judge thread starts");
        }
        JudgeQueue { tx, name: judge.name().into(), metrics }
    }

    /// The judge's name (`local:<model>`, `openai:<model>`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queues one response to `conversation` (identified by `key`) and returns where its grades
    /// will arrive: one grade per item, or the judge's error.
    pub fn submit(
        &self,
        conversation: Arc<Vec<Message>>,
        key: Arc<str>,
        response: String,
        items: Vec<RubricEntry>,
    ) -> Result<oneshot::Receiver<Result<Vec<Grade>, String>>, Refused> {
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(Job { conversation, key, response, items, reply }) {
            Ok(()) => {
                self.metrics.queue_depth.inc();
                Ok(rx)
            }
            Err(TrySendError::Full(_)) => Err(Refused::Full),
            Err(TrySendError::Disconnected(_)) => Err(Refused::Closed),
        }
    }
}

/// A worker: takes a job, gathers what else arrives within `window`, grades by conversation.
/// The worker holds the receiver while it gathers, so batches form one at a time, each as
/// full as its window allows, while the other workers grade theirs.
fn work(judge: &dyn Judge, rx: &Mutex<Receiver<Job>>, window: Duration, metrics: &Metrics) {
    loop {
        let batch = {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            let Ok(first) = rx.recv() else { return };
            let mut batch = vec![first];
            let until = Instant::now() + window;
            while batch.len() < MAX_BATCH {
                let left = until.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(job) => batch.push(job),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            batch
        };
        metrics.queue_depth.dec_by(batch.len() as i64);
        // A request that timed out or whose client left does not need its grades.
        let batch: Vec<Job> = batch.into_iter().filter(|j| !j.reply.is_closed()).collect();
        if batch.is_empty() {
            continue;
        }
        metrics.judge_batch.observe(batch.len() as f64);
        // Groups by conversation, in the order their first job arrived.
        let mut index: HashMap<Arc<str>, usize> = HashMap::new();
        let mut groups: Vec<Vec<Job>> = Vec::new();
        for job in batch {
            let i = *index.entry(job.key.clone()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[i].push(job);
        }
        grade_together(judge, groups, metrics);
    }
}

/// Grades the groups of one batch together ([`Judge::grade_groups`]: the local judge packs
/// their work into shared forward calls). If that fails or panics and there was more than one
/// group, each group is graded on its own, so that only the group at fault fails.
fn grade_together(judge: &dyn Judge, groups: Vec<Vec<Job>>, metrics: &Metrics) {
    if groups.len() == 1 {
        return groups.into_iter().for_each(|jobs| grade_group(judge, jobs, metrics));
    }
    let started = Instant::now();
    let responses: Vec<Vec<(&str, &[RubricEntry])>> =
        groups.iter().map(|jobs| jobs.iter().map(|j| (j.response.as_str(), &j.items[..])).collect()).collect();
    let asked: Vec<ConversationGroup<'_>> =
        groups.iter().zip(&responses).map(|(jobs, r)| (&jobs[0].conversation[..], &r[..])).collect();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| judge.grade_groups(&asked)));
    metrics.judge_seconds.inc_by(started.elapsed().as_secs_f64());
    drop(asked);
    drop(responses);
    match result {
        Ok(Ok(all)) if all.len() == groups.len() => {
            for (jobs, grades) in groups.into_iter().zip(all) {
                deliver(jobs, Ok(Ok(grades)), metrics);
            }
        }
        _ => groups.into_iter().for_each(|jobs| grade_group(judge, jobs, metrics)),
    }
}

/// Grades the responses to one conversation together; a judge that panics fails these jobs
/// only.
fn grade_group(judge: &dyn Judge, jobs: Vec<Job>, metrics: &Metrics) {
    let started = Instant::now();
    let conversation = jobs[0].conversation.clone();
    let responses: Vec<(&str, &[RubricEntry])> = jobs.iter().map(|j| (j.response.as_str(), &j.items[..])).collect();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| judge.grade_group(&conversation, &responses)));
    metrics.judge_seconds.inc_by(started.elapsed().as_secs_f64());
    drop(responses);
    deliver(jobs, result, metrics);
}

/// Sends each job its grades, or the reason there are none.
fn deliver(jobs: Vec<Job>, result: std::thread::Result<Result<Vec<Vec<Grade>>, ModelError>>, metrics: &Metrics) {
    let criteria: usize = jobs.iter().map(|j| j.items.len()).sum();
    match result {
        Ok(Ok(grades)) if grades.len() == jobs.len() => {
            metrics.judge_criteria.inc_by(criteria as u64);
            metrics.judge_responses.inc_by(jobs.len() as u64);
            for (job, g) in jobs.into_iter().zip(grades) {
                let answer = if g.len() == job.items.len() {
                    Ok(g)
                } else {
                    Err(format!("the judge returned {} grades for {} rubric items", g.len(), job.items.len()))
                };
                let _ = job.reply.send(answer);
            }
        }
        Ok(Ok(grades)) => {
            fail(jobs, &format!("the judge returned {} results for {} responses", grades.len(), criteria))
        }
        Ok(Err(e)) => fail(jobs, &format!("the judge failed: {e}")),
        Err(panic) => {
            let what = crate::error::panic_message(&*panic);
            tracing::error!("the judge panicked: {what}");
            fail(jobs, &format!("the judge crashed on this request: {what}"))
        }
    }
}

fn fail(jobs: Vec<Job>, message: &str) {
    for job in jobs {
        let _ = job.reply.send(Err(message.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Meets an item when the response mentions its criterion's first word; records group sizes.
    struct WordJudge {
        groups: Mutex<Vec<usize>>,
        calls: AtomicUsize,
    }

    impl Judge for WordJudge {
        fn name(&self) -> String {
            "word".into()
        }
        fn grade(&self, _: &[Message], response: &str, items: &[RubricEntry]) -> Result<Vec<Grade>, ModelError> {
            if response == "panic" {
                panic!("asked to");
            }
            if response == "slow" {
                std::thread::sleep(Duration::from_millis(400));
            }
            Ok(items
                .iter()
                .map(|i| {
                    let word = i.criterion.split_whitespace().next().unwrap_or("");
                    Grade { criteria_met: response.contains(word), p_met: None, explanation: None }
                })
                .collect())
        }
        fn grade_group(
            &self,
            conversation: &[Message],
            responses: &[(&str, &[RubricEntry])],
        ) -> Result<Vec<Vec<Grade>>, ModelError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.groups.lock().unwrap().push(responses.len());
            responses.iter().map(|(r, items)| self.grade(conversation, r, items)).collect()
        }
    }

    /// A [`WordJudge`] that takes a batch's groups in one call, as the local judge does, and
    /// records how many groups each call had.
    struct PackingJudge {
        inner: WordJudge,
        packed: Mutex<Vec<usize>>,
    }

    impl Judge for PackingJudge {
        fn name(&self) -> String {
            "packing".into()
        }
        fn grade(&self, c: &[Message], response: &str, items: &[RubricEntry]) -> Result<Vec<Grade>, ModelError> {
            self.inner.grade(c, response, items)
        }
        fn grade_group(&self, c: &[Message], r: &[(&str, &[RubricEntry])]) -> Result<Vec<Vec<Grade>>, ModelError> {
            self.inner.grade_group(c, r)
        }
        fn grade_groups(&self, groups: &[ConversationGroup<'_>]) -> Result<Vec<Vec<Vec<Grade>>>, ModelError> {
            self.packed.lock().unwrap().push(groups.len());
            groups.iter().map(|(c, r)| self.inner.grade_group(c, r)).collect()
        }
    }

    #[test]
    fn a_batchs_conversations_are_graded_in_one_call_and_a_panic_fails_its_group_only() {
        let judge = Arc::new(PackingJudge {
            inner: WordJudge { groups: Mutex::new(Vec::new()), calls: AtomicUsize::new(0) },
            packed: Mutex::new(Vec::new()),
        });
        let q = JudgeQueue::start(judge.clone(), 1, 16, Duration::from_millis(300), Arc::new(Metrics::new()));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let items = vec![RubricEntry::new("rest", 5, vec![])];
        let a = q.submit(convo("a"), "a".into(), "rest".into(), items.clone()).unwrap();
        let b = q.submit(convo("b"), "b".into(), "walk".into(), items.clone()).unwrap();
        assert!(rt.block_on(a).unwrap().unwrap()[0].criteria_met);
        assert!(!rt.block_on(b).unwrap().unwrap()[0].criteria_met);
        assert_eq!(*judge.packed.lock().unwrap(), [2], "two conversations, one call");
        // A panic while grading the packed batch: each group is retried on its own, and only
        // the one at fault fails.
        let bad = q.submit(convo("x"), "x".into(), "panic".into(), items.clone()).unwrap();
        let good = q.submit(convo("y"), "y".into(), "rest".into(), items.clone()).unwrap();
        assert!(rt.block_on(bad).unwrap().unwrap_err().contains("crashed"));
        assert!(rt.block_on(good).unwrap().unwrap()[0].criteria_met);
        assert_eq!(*judge.packed.lock().unwrap(), [2, 2]);
    }

    fn convo(text: &str) -> Arc<Vec<Message>> {
        Arc::new(vec![Message { role: "user".into(), content: text.into() }])
    }

    #[test]
    fn responses_to_one_conversation_are_graded_as_a_group() {
        let judge = Arc::new(WordJudge { groups: Mutex::new(Vec::new()), calls: AtomicUsize::new(0) });
        let metrics = Arc::new(Metrics::new());
        let q = JudgeQueue::start(judge.clone(), 1, 16, Duration::from_millis(200), metrics.clone());
        let items = vec![RubricEntry::new("rest the ankle", 5, vec![])];
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let answers: Vec<_> = (0..4)
            .map(|i| {
                let (c, key) = if i < 3 { (convo("ankle"), "a") } else { (convo("head"), "b") };
                q.submit(c, key.into(), if i % 2 == 0 { "rest".into() } else { "walk".into() }, items.clone()).unwrap()
            })
            .collect();
        let grades: Vec<Vec<Grade>> = answers.into_iter().map(|rx| rt.block_on(rx).unwrap().unwrap()).collect();
        assert_eq!(grades.iter().map(|g| g[0].criteria_met).collect::<Vec<_>>(), [true, false, true, false]);
        let mut groups = judge.groups.lock().unwrap().clone();
        groups.sort();
        assert_eq!(groups, [1, 3], "three responses to one conversation, one to another");
        assert!(metrics.render().contains("clinalign_judge_criteria_total 4"));
    }

    #[test]
    fn a_panicking_judge_fails_its_group_only_and_a_full_queue_refuses() {
        let judge = Arc::new(WordJudge { groups: Mutex::new(Vec::new()), calls: AtomicUsize::new(0) });
        let q = JudgeQueue::start(judge, 1, 1, Duration::ZERO, Arc::new(Metrics::new()));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let items = vec![RubricEntry::new("rest", 5, vec![])];
        let bad = q.submit(convo("x"), "x".into(), "panic".into(), items.clone()).unwrap();
        assert!(rt.block_on(bad).unwrap().unwrap_err().contains("crashed"));
        let good = q.submit(convo("y"), "y".into(), "rest".into(), items.clone()).unwrap();
        assert!(rt.block_on(good).unwrap().unwrap()[0].criteria_met, "the worker survived the panic");
        // One response grading (slowly), one waiting: the queue of one is full.
        let slow = q.submit(convo("s"), "s".into(), "slow".into(), items.clone()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let waiting = q.submit(convo("w"), "w".into(), "rest".into(), items.clone()).unwrap();
        assert_eq!(q.submit(convo("z"), "z".into(), "rest".into(), items.clone()).err(), Some(Refused::Full));
        assert!(rt.block_on(slow).unwrap().is_ok());
        assert!(rt.block_on(waiting).unwrap().is_ok());
    }
}
