//! Exhaustive depth-first search over client choices, with sleep sets and
//! an optional preemption bound.
//!
//! The search is stateless: futures cannot be cloned, so each execution
//! starts from a fresh store and replays the stack's choices before
//! branching. Sleep sets (Godefroid 1996) skip a choice when an already
//! explored sibling commutes with every step taken since: the schedules
//! below it are reorderings of ones already seen. An execution whose
//! enabled clients are all asleep is abandoned and counted as pruned.
//!
//! The preemption bound (Musuvathi and Qadeer 2007) counts switches away
//! from a client that could have continued. With a bound the search is no
//! longer exhaustive, so the report then says not exhausted. A bound turns
//! sleep sets off: a schedule pruned as equivalent to an explored one may be
//! the only one of its class within the bound (Coons, Musuvathi and
//! McKinley 2013), and with both the search missed a final state reachable
//! with two preemptions.

use super::executor::task_of;
use super::footprint::Footprint;
use super::{ChoicePoint, Scheduler};
use serde::Serialize;

/// Depth-first search settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Dfs {
    /// Prune with sleep sets (partial-order reduction).
    pub sleep_sets: bool,
    /// Explore only schedules with at most this many preemptions.
    pub preemptions_max: Option<u32>,
}

impl Default for Dfs {
    fn default() -> Self {
        Dfs {
            sleep_sets: true,
            preemptions_max: None,
        }
    }
}

impl Dfs {
    /// Without sleep sets: every interleaving (to measure the reduction).
    pub fn without_sleep_sets(self) -> Dfs {
        Dfs {
            sleep_sets: false,
            ..self
        }
    }

    /// With a preemption bound: every schedule with at most `bound`
    /// preemptions, without sleep sets (see the module notes).
    pub fn preemptions_max(self, bound: u32) -> Dfs {
        Dfs {
            preemptions_max: Some(bound),
            sleep_sets: false,
        }
    }
}

/// One choice on the current path.
struct Node {
    enabled: Vec<usize>,
    /// Footprints of `enabled`'s next steps (empty without sleep sets).
    footprints: Vec<Footprint>,
    /// Clients asleep here, with their footprints where they fell asleep.
    sleep: Vec<(usize, Footprint)>,
    /// Choices whose subtrees are fully explored.
    done: Vec<usize>,
    chosen: usize,
    /// Preemptions on the path up to and including this choice.
    preemptions: u32,
    /// The client chosen by the step before (not a preemption to continue).
    previous: Option<usize>,
}

pub(crate) struct DfsScheduler {
    settings: Dfs,
    stack: Vec<Node>,
    /// Depth of the next choice in the current execution.
    depth: usize,
    started: bool,
    finished: bool,
    /// Whether the preemption bound cut any choice.
    bound_cut: bool,
}

impl DfsScheduler {
    pub(crate) fn new(settings: Dfs) -> DfsScheduler {
        DfsScheduler {
            settings,
            stack: Vec::new(),
            depth: 0,
            started: false,
            finished: false,
            bound_cut: false,
        }
    }

    fn fp(node: &Node, task: usize) -> Option<&Footprint> {
        node.enabled
            .iter()
            .position(|&t| t == task)
            .and_then(|i| node.footprints.get(i))
    }

    /// Preemptions after choosing `id` at a node: one more when the
    /// previous step's client could have gone on and another one is chosen.
    fn preemptions_if(enabled: &[usize], previous: Option<usize>, base: u32, id: usize) -> u32 {
        match previous.map(task_of) {
            Some(p) if p != task_of(id) && enabled.iter().any(|&e| task_of(e) == p) => base + 1,
            _ => base,
        }
    }

    /// The next choice at a node: the previous client first (no
    /// preemption), then the others in index order; skipping done, asleep
    /// and over-bound choices.
    fn pick(&mut self, node: &Node, base: u32) -> Option<(usize, u32)> {
        let continues = |id: &usize| node.previous.map(task_of) == Some(task_of(*id));
        let order = node
            .enabled
            .iter()
            .copied()
            .filter(continues)
            .chain(node.enabled.iter().copied().filter(|id| !continues(id)));
        let mut cut = false;
        let mut found = None;
        for task in order {
            if node.done.contains(&task) || node.sleep.iter().any(|(t, _)| *t == task) {
                continue;
            }
            let preemptions = Self::preemptions_if(&node.enabled, node.previous, base, task);
            if self
                .settings
                .preemptions_max
                .is_some_and(|max| preemptions > max)
            {
                cut = true;
                continue;
            }
            found = Some((task, preemptions));
            break;
        }
        if cut {
            self.bound_cut = true;
        }
        found
    }

    /// Pops finished nodes and moves the deepest open one to its next
    /// choice; false when the whole tree is done.
    fn backtrack(&mut self) -> bool {
        while let Some(mut node) = self.stack.pop() {
            node.done.push(node.chosen);
            let base = self.stack.last().map_or(0, |parent| parent.preemptions);
            if let Some((task, preemptions)) = self.pick(&node, base) {
                node.chosen = task;
                node.preemptions = preemptions;
                self.stack.push(node);
                return true;
            }
        }
        false
    }
}

impl Scheduler for DfsScheduler {
    fn line_name(&self) -> &'static str {
        "dfs"
    }

    fn report_name(&self) -> String {
        let mut name = "dfs".to_string();
        if !self.settings.sleep_sets {
            name += "-no-sleep-sets";
        }
        if let Some(max) = self.settings.preemptions_max {
            name += &format!("-preemptions-{max}");
        }
        name
    }

    fn next_schedule(&mut self, _clients: usize) -> bool {
        if self.finished {
            return false;
        }
        self.depth = 0;
        if !self.started {
            self.started = true;
            return true;
        }
        if self.backtrack() {
            true
        } else {
            self.finished = true;
            false
        }
    }

    fn needs_footprints(&self) -> bool {
        // Footprints are only needed where the path is new; computing them
        // on replayed prefixes is wasted but keeps the loop simple.
        self.settings.sleep_sets && self.depth >= self.stack.len()
    }

    fn choose(&mut self, point: &ChoicePoint<'_>) -> Option<usize> {
        if self.depth < self.stack.len() {
            let node = &self.stack[self.depth];
            assert_eq!(
                node.enabled, point.enabled,
                "the model is not deterministic: replaying the same choices enabled different clients at depth {}",
                self.depth
            );
            self.depth += 1;
            return Some(node.chosen);
        }
        let footprints = point.footprints.clone().unwrap_or_default();
        let (sleep, previous, base) = match self.stack.last() {
            None => (Vec::new(), None, 0),
            Some(parent) => {
                let sleep = if self.settings.sleep_sets {
                    let chosen = Self::fp(parent, parent.chosen)
                        .cloned()
                        .unwrap_or(Footprint::Global);
                    parent
                        .sleep
                        .iter()
                        .cloned()
                        .chain(
                            parent
                                .done
                                .iter()
                                .filter_map(|&t| Self::fp(parent, t).map(|f| (t, f.clone()))),
                        )
                        .filter(|(t, f)| point.enabled.contains(t) && f.independent(&chosen))
                        .collect()
                } else {
                    Vec::new()
                };
                (sleep, Some(parent.chosen), parent.preemptions)
            }
        };
        let mut node = Node {
            enabled: point.enabled.to_vec(),
            footprints,
            sleep,
            done: Vec::new(),
            chosen: 0,
            preemptions: 0,
            previous,
        };
        let (task, preemptions) = self.pick(&node, base)?;
        node.chosen = task;
        node.preemptions = preemptions;
        self.stack.push(node);
        self.depth += 1;
        Some(task)
    }

    fn exhausted(&self) -> bool {
        self.finished && !self.bound_cut
    }
}
