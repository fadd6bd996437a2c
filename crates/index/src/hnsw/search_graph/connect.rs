//! Links back the nodes HNSW's neighbour selection leaves unfindable.
//!
//! The selection heuristic (Malkov and Yashunin's algorithm 4, as hnsw_rs, hnswlib and FAISS run it)
//! keeps a candidate only when it is closer to the new node than to every neighbour kept so far. A point
//! unlike all others (an outlier photo) keeps one or two links out; the neighbours it links to, their
//! lists full, run the same heuristic on their own lists and drop the link back. Nothing then points to
//! the outlier, or only other outliers do: no search reaches it, not even one for its own vector, and an
//! exact copy of a photo in the collection would not find it.
//!
//! [`SearchGraph::link_unfound`] searches each given node's own vector at the index's `ef`; where the
//! search does not return the node first, the [`LINKS`] nodes it returned instead (where a query for the
//! node ends up) get a link to it, and the node is searched again, up to [`PASSES`] times. Then every
//! node a walk on layer 0 from the entry does not reach gets links from reached nodes near it. These
//! links are kept apart ([`SearchGraph::extra_links`]) so that they can be saved and laid over the same
//! graph again when it is loaded or grown. No node takes more than [`MAX_EXTRA_LINKS`].

use super::SearchGraph;
use crate::hnsw::tombstones::Tombstones;
use crate::vector_index::Metric;
use rayon::prelude::*;

/// Links given to an unfound node per pass.
const LINKS: usize = 4;
/// Searches per unfound node.
const PASSES: usize = 3;
/// Extra links one node takes at most.
const MAX_EXTRA_LINKS: usize = 16;

impl SearchGraph {
    /// The links laid over hnsw_rs's graph, as `(from, to)` slot pairs.
    pub(crate) fn extra_links(&self) -> &[(u32, u32)] {
        &self.extra
    }

    /// Lays `links` over layer 0 (from a layout of the same graph, or of the graph before it grew):
    /// pairs beyond the slots or already linked are skipped. Returns how many were added.
    pub(crate) fn add_links(&mut self, links: &[(u32, u32)]) -> usize {
        let slots = self.slots as u32;
        let mut per_node: Vec<Vec<u32>> = vec![Vec::new(); self.slots];
        for &(from, to) in links {
            if from < slots && to < slots && from != to {
                let more = &mut per_node[from as usize];
                if !more.contains(&to) && !self.level0_links(from).contains(&to) {
                    more.push(to);
                }
            }
        }
        let added: usize = per_node.iter().map(Vec::len).sum();
        if added == 0 {
            return 0;
        }
        let degree = (0..slots)
            .map(|slot| self.level0_links(slot).len() + per_node[slot as usize].len())
            .max()
            .unwrap_or(0);
        let stride = 1 + degree;
        let mut level0 = vec![0u32; self.slots * stride];
        for (slot, block) in level0.chunks_exact_mut(stride).enumerate() {
            let links = self.level0_links(slot as u32);
            let more = &per_node[slot];
            block[0] = (links.len() + more.len()) as u32;
            block[1..1 + links.len()].copy_from_slice(links);
            block[1 + links.len()..1 + links.len() + more.len()].copy_from_slice(more);
            self.extra.extend(more.iter().map(|&to| (slot as u32, to)));
        }
        self.level0 = level0;
        self.level0_stride = stride;
        added
    }

    /// Links back each of `nodes` that a search for its own vector at `ef` does not return first, then
    /// every node unreachable from the entry. Returns how many links it added.
    pub(crate) fn link_unfound(&mut self, metric: Metric, ef: usize, nodes: &[u32]) -> usize {
        let Some((entry, _)) = self.entry else {
            return 0;
        };
        let mut added = 0;
        // Searched in walk order; the links laid in the order `nodes` gave (the cap on each node's
        // extra links keeps the first ones).
        let mut given = vec![u32::MAX; self.slots];
        for (i, &node) in nodes.iter().enumerate() {
            given[node as usize] = i as u32;
        }
        let walk_rank = self.walk_ranks(entry);
        let mut pending: Vec<u32> = nodes.to_vec();
        pending.sort_by_key(|&n| walk_rank[n as usize]);
        for _ in 0..PASSES {
            let mut landed: Vec<(u32, Vec<u32>)> = pending
                .par_iter()
                .filter_map(|&node| {
                    let instead = self.found_instead(metric, ef, node)?;
                    Some((node, instead))
                })
                .collect();
            if landed.is_empty() {
                break;
            }
            landed.sort_by_key(|&(node, _)| given[node as usize]);
            let links = self.capped(
                landed
                    .iter()
                    .flat_map(|(node, from)| from.iter().map(move |&f| (f, *node))),
            );
            let linked = self.add_links(&links);
            added += linked;
            if linked == 0 {
                break;
            }
            pending = landed.into_iter().map(|(node, _)| node).collect();
            pending.sort_by_key(|&n| walk_rank[n as usize]);
        }

        // Anything still unreachable from the entry (a group of outliers linking only to each other):
        // links from reached nodes near it, one group at a time. The links only lead into the groups,
        // so what a group reaches does not depend on them: they are laid once, at the end, instead of
        // rebuilding layer 0 once per group (the searches for later groups do not walk them; they need
        // reached nodes near the group, which the marks already tell).
        let mut reached = vec![false; self.slots];
        let mut stack = Vec::new();
        let mut links: Vec<(u32, u32)> = Vec::new();
        self.mark_reached(entry, &mut reached, &mut stack);
        for node in 0..self.slots as u32 {
            if reached[node as usize] {
                continue;
            }
            let near = self.nearest(metric, ef.max(LINKS), node, LINKS);
            let mut from: Vec<u32> = near
                .into_iter()
                .filter(|&slot| slot != node && reached[slot as usize])
                .take(LINKS)
                .collect();
            if from.is_empty() {
                from.push(entry);
            }
            links.extend(from.into_iter().map(|f| (f, node)));
            self.mark_reached(node, &mut reached, &mut stack);
        }
        added + self.add_links(&links)
    }

    /// Each slot's rank in a breadth-first walk of layer 0 from `entry` (`u32::MAX` for those it does
    /// not meet). Searches for nodes sorted by it look for nodes near one another one after the other and
    /// walk much the same part of the graph, whose vectors are still in cache (the searches are
    /// independent: their order changes no result, so the ranks of the graph before any repair link
    /// serve every pass).
    fn walk_ranks(&self, entry: u32) -> Vec<u32> {
        let mut rank = vec![u32::MAX; self.slots];
        let mut queue = std::collections::VecDeque::from([entry]);
        let mut next = 0u32;
        rank[entry as usize] = 0;
        while let Some(slot) = queue.pop_front() {
            for &to in self.level0_links(slot) {
                let seen = &mut rank[to as usize];
                if *seen == u32::MAX {
                    next += 1;
                    *seen = next;
                    queue.push_back(to);
                }
            }
        }
        rank
    }

    /// Nodes whose links in `previous` (a layout of the graph before it changed) had and this one lacks.
    pub(crate) fn lost_in_links(&self, previous: &SearchGraph) -> Vec<u32> {
        let mut lost = vec![false; self.slots];
        let shared = previous.slots.min(self.slots) as u32;
        let mut now = Vec::new();
        for slot in 0..shared {
            now.clear();
            now.extend_from_slice(self.level0_links(slot));
            now.sort_unstable();
            for &to in previous.level0_links(slot) {
                if (to as usize) < self.slots && now.binary_search(&to).is_err() {
                    lost[to as usize] = true;
                }
            }
        }
        (0..self.slots as u32)
            .filter(|&slot| lost[slot as usize])
            .collect()
    }

    /// `None` when a search for `node`'s vector returns it first (or tied first, for a duplicate
    /// vector); otherwise the nodes it returned instead, best first.
    /// The search stops where it meets `node` (it would return it, at distance 0), which spares most of
    /// the walk for the nodes that are found.
    fn found_instead(&self, metric: Metric, ef: usize, node: u32) -> Option<Vec<u32>> {
        let found = self.search_until(
            metric,
            self.vector(node),
            LINKS + 1,
            ef,
            &Tombstones::default(),
            Some(node),
        );
        if found.reached {
            return None;
        }
        let best = found.nearest.first().map(|&(d, _)| d)?;
        let found_first = found
            .nearest
            .iter()
            .any(|&(d, slot)| slot == node && d <= best);
        (!found_first).then(|| {
            found
                .nearest
                .iter()
                .map(|&(_, slot)| slot)
                .filter(|&slot| slot != node)
                .take(LINKS)
                .collect()
        })
    }

    /// The `k` nodes nearest to `node`'s vector that a search at `ef` meets, best first.
    fn nearest(&self, metric: Metric, ef: usize, node: u32, k: usize) -> Vec<u32> {
        self.search(metric, self.vector(node), k + 1, ef, &Tombstones::default())
            .nearest
            .into_iter()
            .map(|(_, slot)| slot)
            .collect()
    }

    /// `links` without those whose source already holds [`MAX_EXTRA_LINKS`] extra links.
    fn capped(&self, links: impl Iterator<Item = (u32, u32)>) -> Vec<(u32, u32)> {
        let mut count = vec![0usize; self.slots];
        for &(from, _) in &self.extra {
            count[from as usize] += 1;
        }
        links
            .filter(|&(from, _)| {
                let c = &mut count[from as usize];
                *c += 1;
                *c <= MAX_EXTRA_LINKS
            })
            .collect()
    }

    /// Marks everything reachable on layer 0 from `start`.
    fn mark_reached(&self, start: u32, reached: &mut [bool], stack: &mut Vec<u32>) {
        if std::mem::replace(&mut reached[start as usize], true) {
            return;
        }
        stack.push(start);
        while let Some(slot) = stack.pop() {
            for &next in self.level0_links(slot) {
                if !std::mem::replace(&mut reached[next as usize], true) {
                    stack.push(next);
                }
            }
        }
    }
}
