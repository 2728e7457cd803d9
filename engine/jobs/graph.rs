//! Job graphs: named jobs with priorities, policies and dependency edges, validated (acyclic)
//! when built and then run any number of times.

use super::{JobContext, JobError, JobPolicy, Priority};
use std::borrow::Cow;
use std::sync::Arc;

/// A job body. It receives the [`JobContext`] of the running attempt and returns `Ok(())` or an
/// error. Bodies may be shared by many jobs (`Arc`); [`JobContext::job`] tells them apart.
pub type JobFn = Arc<dyn Fn(&JobContext) -> Result<(), JobError> + Send + Sync>;

/// Identifies a job inside one graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub usize);

pub(crate) struct Node {
    pub name: Cow<'static, str>,
    pub priority: Priority,
    pub policy: JobPolicy,
    pub body: JobFn,
    pub deps: Vec<usize>,
    pub dependents: Vec<usize>,
}

/// Errors from building a graph.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphError {
    /// The dependency edges form a cycle; the jobs on it are named in order.
    #[error("the job graph has a cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// An edge names a job that does not exist.
    #[error("dependency on unknown job {0}")]
    UnknownJob(usize),
}

/// Builds a [`JobGraph`].
#[derive(Default)]
pub struct GraphBuilder {
    nodes: Vec<Node>,
    edges: Vec<(usize, usize)>,
}

impl GraphBuilder {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a job with default policy.
    pub fn add(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        priority: Priority,
        body: impl Fn(&JobContext) -> Result<(), JobError> + Send + Sync + 'static,
    ) -> JobId {
        self.add_shared(name, priority, Arc::new(body))
    }

    /// Add a job whose body is shared with other jobs (cheap for large graphs).
    pub fn add_shared(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        priority: Priority,
        body: JobFn,
    ) -> JobId {
        self.nodes.push(Node {
            name: name.into(),
            priority,
            policy: JobPolicy::default(),
            body,
            deps: Vec::new(),
            dependents: Vec::new(),
        });
        JobId(self.nodes.len() - 1)
    }

    /// Set a job's retry/backoff/timeout policy.
    pub fn set_policy(&mut self, job: JobId, policy: JobPolicy) -> &mut Self {
        if let Some(n) = self.nodes.get_mut(job.0) {
            n.policy = policy;
        }
        self
    }

    /// `job` runs only after `on` succeeded.
    pub fn depends(&mut self, job: JobId, on: JobId) -> &mut Self {
        self.edges.push((job.0, on.0));
        self
    }

    /// Number of jobs so far.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when no job was added.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Validate and freeze. A cycle is rejected with the jobs on it named.
    pub fn build(mut self) -> Result<JobGraph, GraphError> {
        let n = self.nodes.len();
        for &(a, b) in &self.edges {
            if a >= n || b >= n {
                return Err(GraphError::UnknownJob(a.max(b)));
            }
        }
        self.edges.sort_unstable();
        self.edges.dedup();
        for &(job, on) in &self.edges {
            self.nodes[job].deps.push(on);
            self.nodes[on].dependents.push(job);
        }
        if let Some(cycle) = find_cycle(&self.nodes) {
            return Err(GraphError::Cycle(
                cycle
                    .into_iter()
                    .map(|i| self.nodes[i].name.to_string())
                    .collect(),
            ));
        }
        let roots = (0..n).filter(|&i| self.nodes[i].deps.is_empty()).collect();
        Ok(JobGraph {
            nodes: self.nodes.into(),
            roots,
        })
    }
}

/// Iterative DFS; returns the jobs of one cycle in dependency order.
fn find_cycle(nodes: &[Node]) -> Option<Vec<usize>> {
    let n = nodes.len();
    let mut color = vec![0u8; n]; // 0 white, 1 on stack, 2 done
    let mut parent = vec![usize::MAX; n];
    for start in 0..n {
        if color[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        color[start] = 1;
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            if let Some(&w) = nodes[v].dependents.get(*next) {
                *next += 1;
                match color[w] {
                    0 => {
                        color[w] = 1;
                        parent[w] = v;
                        stack.push((w, 0));
                    }
                    1 => {
                        // v -> w closes a cycle: walk back from v to w.
                        let mut cycle = vec![v];
                        let mut x = v;
                        while x != w {
                            x = parent[x];
                            cycle.push(x);
                        }
                        cycle.reverse();
                        cycle.push(w);
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                color[v] = 2;
                stack.pop();
            }
        }
    }
    None
}

/// An immutable, validated job graph. Cheap to clone; run it as often as needed.
#[derive(Clone)]
pub struct JobGraph {
    pub(crate) nodes: Arc<[Node]>,
    pub(crate) roots: Vec<usize>,
}

impl JobGraph {
    /// Number of jobs.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the graph has no job.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A job's name.
    pub fn name(&self, job: JobId) -> &str {
        &self.nodes[job.0].name
    }
}
