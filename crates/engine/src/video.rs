//! Video files: recognised by content (MP4, QuickTime, Matroska, WebM), and frames sampled from them by
//! ffmpeg's command-line tools run as subprocesses (ffprobe for the streams and the duration, ffmpeg for
//! the frames, written to its standard output as PNG). A decoder crash ends the subprocess, not the run;
//! nothing is linked against ffmpeg's libraries, so building needs none of them.
//!
//! Frames are taken every [`VideoOptions::every_ms`] from the start (the frame shown at that time), and
//! at most [`VideoOptions::max_frames`] of them: a longer video gets them spread evenly over its length.

use std::path::Path;
use std::process::Command;

/// The ffmpeg program run to decode frames.
pub const FFMPEG: &str = "ffmpeg";
/// The ffprobe program run to read a video's streams and duration.
pub const FFPROBE: &str = "ffprobe";

/// The containers vsearch reads videos from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoFormat {
    /// ISO base media (`ftyp` box), MPEG-4.
    Mp4,
    /// QuickTime (`ftyp` brand `qt  `, or a file that starts with a `moov`, `mdat` or `wide` atom).
    Mov,
    /// Matroska (EBML, document type `matroska`).
    Matroska,
    /// WebM (EBML, document type `webm`).
    Webm,
}

/// One format: its name (the catalog's `format`) and the content type it is served with.
struct FormatInfo {
    format: VideoFormat,
    name: &'static str,
    mime: &'static str,
}

/// Every video format, by name and content type: the one table of them.
const FORMATS: &[FormatInfo] = &[
    FormatInfo {
        format: VideoFormat::Mp4,
        name: "mp4",
        mime: "video/mp4",
    },
    FormatInfo {
        format: VideoFormat::Mov,
        name: "mov",
        mime: "video/quicktime",
    },
    FormatInfo {
        format: VideoFormat::Matroska,
        name: "mkv",
        mime: "video/x-matroska",
    },
    FormatInfo {
        format: VideoFormat::Webm,
        name: "webm",
        mime: "video/webm",
    },
];

impl VideoFormat {
    fn info(self) -> &'static FormatInfo {
        FORMATS
            .iter()
            .find(|f| f.format == self)
            .unwrap_or(&FORMATS[0])
    }

    /// The format's name, as a frame's `format` holds it: `mp4`, `mov`, `mkv`, `webm`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The content type a video of this format is served with.
    pub fn mime(self) -> &'static str {
        self.info().mime
    }

    /// The format named `name` ([`VideoFormat::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        FORMATS.iter().find(|f| f.name == name).map(|f| f.format)
    }
}

/// ISO base media brands of MPEG-4 audio, which is not video. (HEIF/HEIC and AVIF images, ISO base media
/// too, are what the image-format table recognises: [`sniff`] leaves them to it.)
const AUDIO_BRANDS: &[&[u8; 4]] = &[b"M4A ", b"M4B ", b"M4P "];

/// How many bytes of a file's start [`sniff`] looks at.
pub const SNIFF_BYTES: usize = 64;

/// The video format of a file from its first bytes ([`SNIFF_BYTES`] are enough), or `None`.
pub fn sniff(header: &[u8]) -> Option<VideoFormat> {
    let at = |from: usize, to: usize| header.get(from..to);
    // An image format wins: a HEIF still (its brands major or compatible) is an image, not a video.
    if vsearch_embed::image_io::sniff_format(header).is_some() {
        return None;
    }
    if at(4, 8) == Some(b"ftyp") {
        let brand = at(8, 12)?;
        if AUDIO_BRANDS.iter().any(|b| b.as_slice() == brand) {
            return None;
        }
        return Some(if brand == b"qt  " {
            VideoFormat::Mov
        } else {
            VideoFormat::Mp4
        });
    }
    if matches!(at(4, 8), Some(b"moov" | b"mdat" | b"wide")) {
        return Some(VideoFormat::Mov);
    }
    if header.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        let webm = memchr::memmem::find(header, b"webm").is_some();
        return Some(if webm {
            VideoFormat::Webm
        } else {
            VideoFormat::Matroska
        });
    }
    None
}

/// The video format of the file at `path` by its content; `None` when it is not a video or cannot be
/// read (the image pass then reports it).
pub fn sniff_file(path: &Path) -> Option<VideoFormat> {
    use std::io::Read;
    let mut header = Vec::with_capacity(SNIFF_BYTES);
    std::fs::File::open(path)
        .and_then(|f| f.take(SNIFF_BYTES as u64).read_to_end(&mut header))
        .ok()?;
    sniff(&header)
}

/// How frames are sampled from videos (`vsearch index --video-frames-every`, `--video-max-frames`,
/// `--no-videos`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoOptions {
    /// Index videos at all (else they are skipped like other files that are not images).
    pub enabled: bool,
    /// A frame every this many milliseconds, from the start.
    pub every_ms: u64,
    /// At most this many frames per video: a longer one gets them spread evenly over its length.
    pub max_frames: usize,
    /// Frames are scaled down to this height (keeping the aspect ratio) when taller: the models read
    /// 224-256 pixels, thumbnails 256.
    pub max_height: u32,
}

impl Default for VideoOptions {
    /// Videos indexed, a frame every 5 s, at most 60 per video (so one every 5 s up to 5 minutes), at
    /// most 480 pixels high.
    fn default() -> Self {
        Self {
            enabled: true,
            every_ms: 5_000,
            max_frames: 60,
            max_height: 480,
        }
    }
}

impl VideoOptions {
    /// The interval between frames of a video lasting `duration_ms` (`None`: unknown): at least
    /// [`VideoOptions::every_ms`], longer when that would take more than `max_frames` frames.
    pub fn interval_ms(&self, duration_ms: Option<u64>) -> u64 {
        let every = self.every_ms.max(1);
        let max = self.max_frames.max(1) as u64;
        match duration_ms {
            Some(d) => every.max(d.div_ceil(max)),
            None => every,
        }
    }
}

/// One frame sampled from a video.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Its time from the start of the video, in milliseconds.
    pub ms: u64,
    /// The frame as a PNG file.
    pub png: Vec<u8>,
}

/// Why no frames came from a video.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// ffmpeg or ffprobe is not on the `PATH`: no video can be read until it is installed.
    #[error(
        "{program} is not installed, so videos cannot be indexed (images are): install ffmpeg with \
         `scripts/install_system_deps.sh` (or `apt-get install ffmpeg`) and run `vsearch index` again"
    )]
    FfmpegMissing { program: &'static str },
    /// The file is an MP4 or Matroska container without a video stream (audio only).
    #[error("no video stream")]
    NoVideoStream,
    /// ffprobe or ffmpeg could not read the file: a corrupt or truncated video.
    #[error("{0}")]
    Unreadable(String),
}

/// Samples frames from the video at `path` as `options` say (see the module docs).
pub fn extract_frames(path: &Path, options: &VideoOptions) -> Result<Vec<Frame>, VideoError> {
    let duration_ms = probe(path)?;
    let interval = options.interval_ms(duration_ms);
    let filter = format!(
        "fps=1000/{interval},scale=-2:'min(ih,{})'",
        options.max_height.max(2)
    );
    let out = run(
        Command::new(FFMPEG)
            .args(["-nostdin", "-hide_banner", "-v", "error", "-xerror", "-i"])
            .arg(path)
            .args(["-map", "0:v:0", "-an", "-sn", "-dn", "-vf", &filter])
            .args(["-frames:v", &options.max_frames.max(1).to_string()])
            .args(["-f", "image2pipe", "-c:v", "png", "-"]),
        FFMPEG,
        path,
    )?;
    let pngs = split_pngs(&out).map_err(VideoError::Unreadable)?;
    if pngs.is_empty() {
        return Err(VideoError::Unreadable("ffmpeg decoded no frame".into()));
    }
    Ok(pngs
        .into_iter()
        .enumerate()
        .map(|(i, png)| Frame {
            ms: i as u64 * interval,
            png,
        })
        .collect())
}

/// The duration of the video at `path` in milliseconds (`None` when the container does not say), after
/// checking that it has a video stream.
fn probe(path: &Path) -> Result<Option<u64>, VideoError> {
    let out = run(
        Command::new(FFPROBE)
            .args(["-v", "error", "-select_streams", "v:0"])
            .args(["-show_entries", "stream=codec_type:format=duration"])
            .args(["-of", "default=noprint_wrappers=1"])
            .arg(path),
        FFPROBE,
        path,
    )?;
    let text = String::from_utf8_lossy(&out);
    if !text.lines().any(|l| l.trim() == "codec_type=video") {
        return Err(VideoError::NoVideoStream);
    }
    Ok(text
        .lines()
        .find_map(|l| l.trim().strip_prefix("duration="))
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(|d| (d * 1000.0).round() as u64))
}

/// Runs `command` (`program` on the video at `path`); its standard output, or why it failed (its last
/// error line, without the path it starts with).
fn run(command: &mut Command, program: &'static str, path: &Path) -> Result<Vec<u8>, VideoError> {
    let out = command.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => VideoError::FfmpegMissing { program },
        _ => VideoError::Unreadable(format!("cannot run {program}: {e}")),
    })?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = path.display().to_string();
    let last = stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.strip_prefix(shown.as_str()).unwrap_or(l))
        .map(|l| l.trim_start_matches(':').trim().to_string())
        .unwrap_or_else(|| format!("{program} ended with {}", out.status));
    Err(VideoError::Unreadable(format!(
        "not a readable video ({program}: {last})"
    )))
}

/// The PNG files of a stream of them, one after the other (what ffmpeg's `image2pipe` writes).
fn split_pngs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    let cut = || "ffmpeg's output ended inside a frame".to_string();
    let mut frames = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        if !bytes[start..].starts_with(SIGNATURE) {
            return Err("ffmpeg's output is not a PNG stream".into());
        }
        let mut at = start + SIGNATURE.len();
        loop {
            // A chunk: length (4 bytes, big-endian), type (4), data, CRC (4).
            let head = bytes.get(at..at + 8).ok_or_else(cut)?;
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let end = at.checked_add(12 + len).ok_or_else(cut)?;
            if end > bytes.len() {
                return Err(cut());
            }
            let kind = &head[4..8];
            at = end;
            if kind == b"IEND" {
                break;
            }
        }
        frames.push(bytes[start..at].to_vec());
        start = at;
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        let mut h = vec![0, 0, 0, 0x20];
        h.extend_from_slice(b"ftyp");
        h.extend_from_slice(brand);
        h.extend_from_slice(&[0; 20]);
        h
    }

    #[test]
    fn videos_are_recognised_by_content_and_heif_images_are_not() {
        assert_eq!(sniff(&ftyp(b"isom")), Some(VideoFormat::Mp4));
        assert_eq!(sniff(&ftyp(b"mp42")), Some(VideoFormat::Mp4));
        assert_eq!(sniff(&ftyp(b"qt  ")), Some(VideoFormat::Mov));
        for brand in [b"heic", b"mif1", b"avif", b"M4A "] {
            assert_eq!(sniff(&ftyp(brand)), None, "{brand:?}");
        }
        // A HEIF still named only among the compatible brands is an image too.
        let mut still = ftyp(b"isom");
        still[16..20].copy_from_slice(b"mif1");
        still[20..24].copy_from_slice(b"heic");
        assert_eq!(sniff(&still), None);
        assert_eq!(
            sniff(b"\0\0\0\x08wide\0\0\0\x10mdat"),
            Some(VideoFormat::Mov)
        );
        let mut ebml = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x82, 0x84];
        assert_eq!(sniff(&ebml), Some(VideoFormat::Matroska));
        ebml.extend_from_slice(b"webm");
        assert_eq!(sniff(&ebml), Some(VideoFormat::Webm));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0"), None, "a JPEG");
        assert_eq!(sniff(b""), None);
        for f in FORMATS {
            assert_eq!(VideoFormat::from_name(f.format.name()), Some(f.format));
        }
    }

    #[test]
    fn a_long_video_gets_its_frames_spread_over_its_length() {
        let options = VideoOptions {
            every_ms: 5_000,
            max_frames: 10,
            ..VideoOptions::default()
        };
        assert_eq!(options.interval_ms(Some(6_000)), 5_000);
        assert_eq!(options.interval_ms(Some(50_000)), 5_000);
        assert_eq!(options.interval_ms(Some(100_000)), 10_000);
        assert_eq!(options.interval_ms(Some(100_001)), 10_001);
        assert_eq!(options.interval_ms(None), 5_000);
    }

    #[test]
    fn a_png_stream_splits_into_its_files() {
        let png = |w: u32| {
            let mut bytes = Vec::new();
            image::DynamicImage::new_rgb8(w, 2)
                .write_to(
                    &mut std::io::Cursor::new(&mut bytes),
                    image::ImageFormat::Png,
                )
                .expect("encode");
            bytes
        };
        let (a, b) = (png(3), png(5));
        let stream = [a.clone(), b.clone()].concat();
        assert_eq!(split_pngs(&stream).expect("split"), [a.clone(), b]);
        assert!(split_pngs(&stream[..stream.len() - 3]).is_err());
        assert!(split_pngs(b"not a png").is_err());
        assert_eq!(split_pngs(&[]).expect("empty"), Vec::<Vec<u8>>::new());
    }
}
