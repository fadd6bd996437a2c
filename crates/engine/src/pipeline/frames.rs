//! Videos in an index run: each new or changed video's frames are sampled ([`crate::video`]), then go
//! through the same decode-embed loop and committer as images, each frame a row of its own at
//! `VIDEO#t=SECONDS` (a frame keeps its id while its video keeps its path and the frame its time). The
//! frames are committed with [`UNSEALED_MTIME`] and get the video's mtime in one last commit that also
//! removes the frames no longer sampled, so a run killed in the middle of a video samples it again.
//!
//! A video ffmpeg cannot read (corrupt, truncated) is reported and keeps one failed row at its path, like
//! an image that does not decode; without ffmpeg each video is reported and nothing is written, so the
//! run after ffmpeg is installed indexes them.

use super::commit::BatchCommitter;
use super::ingest::{self, EmbeddedBatch, FileOutcome, StageTimes};
use super::plan::{PendingFile, PendingFrame};
use crate::pipeline::options::{Failure, IndexOptions, IndexReport};
use crate::pipeline::scan::ScannedFile;
use crate::store::catalog::UNSEALED_MTIME;
use crate::types::error::Result;
use crate::types::metadata::{ContentMeta, VideoFrame};
use crate::video::{self, VideoError, VideoFormat};
use std::path::Path;
use vsearch_embed::ImageEmbedder;

/// What the frames of videos are embedded with and committed to.
pub(super) struct FrameRun<'a, 'c> {
    pub model: &'a dyn ImageEmbedder,
    pub dim: usize,
    pub root: &'a Path,
    /// The collection folder (thumbnails are kept there).
    pub coll: &'a Path,
    pub options: &'a IndexOptions,
    pub committer: &'a mut BatchCommitter<'c>,
}

impl FrameRun<'_, '_> {
    /// Indexes `videos` (new and changed video files, with their formats), one after the other; returns
    /// where the time of their frames' decode-embed loops went.
    pub fn index(
        &mut self,
        videos: &[(PendingFile, VideoFormat)],
        report: &mut IndexReport,
    ) -> Result<StageTimes> {
        let mut times = StageTimes::default();
        let progress = progress_bar(self.options.progress, videos.len());
        let mut ffmpeg_missing = false;
        for (video, format) in videos {
            progress.set_message(video.file.rel.clone());
            match video::extract_frames(&video.file.abs, &self.options.videos) {
                Ok(frames) => {
                    let pending = frames
                        .into_iter()
                        .map(|f| pending_frame(video, *format, f))
                        .collect::<Vec<_>>();
                    times.add(self.embed(&pending, report)?);
                    // The frames no longer sampled, and the row of the video when it failed before.
                    let sampled: std::collections::HashSet<&str> =
                        pending.iter().map(|p| p.file.rel.as_str()).collect();
                    let remove: Vec<u64> = video
                        .frames
                        .iter()
                        .filter(|e| !sampled.contains(e.path.as_str()))
                        .chain(&video.previous)
                        .map(|e| e.id)
                        .collect();
                    report.removed += remove.len();
                    self.committer.seal_frames(&video.file, &remove)?;
                    report.videos += 1;
                }
                Err(VideoError::NoVideoStream) => {
                    // An audio-only MP4 or Matroska file: not something vsearch indexes.
                    self.remove_all(video, report)?;
                    report.skipped += 1;
                }
                Err(e @ VideoError::FfmpegMissing { .. }) => {
                    if !ffmpeg_missing {
                        tracing::error!("{e}");
                        ffmpeg_missing = true;
                    }
                    report.failed.push(Failure {
                        path: video.file.abs.clone(),
                        reason: e.to_string(),
                    });
                }
                Err(VideoError::Unreadable(reason)) => {
                    tracing::warn!("{}: {reason}", video.file.abs.display());
                    // Its frames go; the video keeps one failed row at its path (under the id it had).
                    let frames: Vec<u64> = video.frames.iter().map(|e| e.id).collect();
                    report.removed += frames.len();
                    self.committer.seal_frames(&video.file, &frames)?;
                    let outcome = FileOutcome::Failed {
                        hash: String::new(),
                        reason,
                        meta: ContentMeta {
                            format: format.name().to_string(),
                            ..ContentMeta::default()
                        },
                    };
                    let failed = PendingFile::new(video.file.clone(), video.previous.clone());
                    self.committer.commit(
                        std::slice::from_ref(&failed),
                        EmbeddedBatch {
                            outcomes: vec![outcome],
                            vectors: Vec::new(),
                        },
                        report,
                    )?;
                }
            }
            progress.inc(1);
        }
        progress.finish_and_clear();
        Ok(times)
    }

    /// Embeds and commits the frames of one video (the decode-embed loop of images, without its
    /// progress bar: the videos have theirs).
    fn embed(&mut self, pending: &[PendingFile], report: &mut IndexReport) -> Result<StageTimes> {
        let options = IndexOptions {
            progress: false,
            ..self.options.clone()
        };
        let committer = &mut *self.committer;
        ingest::ingest(
            pending,
            self.model,
            self.dim,
            self.root,
            &options,
            Some(self.coll),
            |batch, embedded| committer.commit(batch, embedded, report),
        )
    }

    /// Removes every row of a file that is no longer a video vsearch indexes.
    fn remove_all(&mut self, video: &PendingFile, report: &mut IndexReport) -> Result<()> {
        let rows: Vec<u64> = video
            .frames
            .iter()
            .chain(&video.previous)
            .map(|e| e.id)
            .collect();
        report.removed += rows.len();
        self.committer.seal_frames(&video.file, &rows)
    }
}

/// The pending file of one frame of `video`: the frame's path, the video's size, an unsealed mtime, the
/// row of the frame at that time when the video had one.
fn pending_frame(video: &PendingFile, format: VideoFormat, frame: video::Frame) -> PendingFile {
    let at = VideoFrame::at_ms(video.file.rel.clone(), frame.ms);
    let rel = at.frame_path();
    let previous = video.frames.iter().find(|e| e.path == rel).cloned();
    PendingFile {
        file: ScannedFile {
            rel,
            abs: video.file.abs.clone(),
            size: video.file.size,
            mtime_ns: UNSEALED_MTIME,
        },
        previous,
        frames: Vec::new(),
        frame: Some(PendingFrame {
            at,
            format,
            png: frame.png,
        }),
    }
}

fn progress_bar(show: bool, videos: usize) -> indicatif::ProgressBar {
    if !show || videos == 0 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(videos as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} videos, ETA {eta} ({msg})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
