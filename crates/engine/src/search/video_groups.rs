//! Frames of one video in an answer: the best-scoring frame leads, in its rank, and lists the video's
//! other frames among the results (with their times and scores), which leave the ranking. Ranks are
//! counted again over what is left (from the first result's) when frames were folded, so a page holds
//! one result per video.

use crate::types::query::{FrameHit, SearchResult};
use std::collections::HashMap;

/// `ranked` (best first) with the frames of each video folded into its best one, ranked on from the
/// first result's rank.
pub fn group_frames(ranked: impl IntoIterator<Item = SearchResult>) -> Vec<SearchResult> {
    let mut grouped: Vec<SearchResult> = Vec::new();
    let mut folded = false;
    // The position in `grouped` of each video's leading frame.
    let mut leads: HashMap<String, usize> = HashMap::new();
    for result in ranked {
        if let Some(video) = &result.video {
            if let Some(&lead) = leads.get(&video.path) {
                grouped[lead].frames.push(FrameHit {
                    id: result.id,
                    seconds: video.seconds,
                    score: result.score,
                });
                folded = true;
                continue;
            }
            leads.insert(video.path.clone(), grouped.len());
        }
        grouped.push(result);
    }
    if !folded {
        return grouped;
    }
    let first = grouped.first().map_or(1, |r| r.rank);
    for (i, result) in grouped.iter_mut().enumerate() {
        result.rank = first + i;
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::image_id::ImageId;
    use crate::types::metadata::VideoFrame;

    fn result(id: u64, score: f32, video: Option<(&str, u64)>) -> SearchResult {
        let path = match video {
            Some((v, ms)) => VideoFrame::at_ms(v, ms).frame_path(),
            None => format!("{id}.jpg"),
        };
        SearchResult {
            video: video.map(|(v, ms)| VideoFrame::at_ms(v, ms)),
            ..SearchResult::new(ImageId::Number(id), path, score, 1)
        }
    }

    #[test]
    fn the_best_frame_of_a_video_leads_its_others() {
        let ranked = vec![
            result(1, 0.9, Some(("a.mp4", 5_000))),
            result(2, 0.8, None),
            result(3, 0.7, Some(("b.webm", 0))),
            result(4, 0.6, Some(("a.mp4", 10_000))),
            result(5, 0.5, Some(("a.mp4", 0))),
            result(6, 0.4, None),
        ];
        let grouped = group_frames(ranked);
        let ids: Vec<(u64, usize)> = grouped
            .iter()
            .map(|r| (r.id.number().unwrap_or(0), r.rank))
            .collect();
        assert_eq!(ids, [(1, 1), (2, 2), (3, 3), (6, 4)]);
        let others: Vec<(u64, f64, f32)> = grouped[0]
            .frames
            .iter()
            .map(|f| (f.id.number().unwrap_or(0), f.seconds, f.score))
            .collect();
        assert_eq!(others, [(4, 10.0, 0.6), (5, 0.0, 0.5)]);
        assert!(grouped[1..].iter().all(|r| r.frames.is_empty()));
    }
}
