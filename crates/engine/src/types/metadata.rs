//! What the catalog knows of each image besides its vector: file facts (folder, name, format, bytes,
//! mtime), its size in pixels, and from EXIF the date taken, the camera and the GPS position.
//!
//! These are the keys filters use ([`crate::types::filter`]) and what browsing lists. The content facts
//! ([`ContentMeta`]: format and EXIF) are read at index time, on the decoding threads, from the bytes
//! already read ([`ContentMeta::read`]); folder and name derive from the path.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use vsearch_embed::image_io;

/// One indexed image and its metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageMeta {
    /// The image's id in a local collection (stable while its path stays the same); 0 in a Qdrant
    /// collection, whose images are named by [`ImageMeta::point`].
    pub id: u64,
    /// The image's point id in a Qdrant collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<uuid::Uuid>,
    /// Path relative to the indexed folder, `/`-separated.
    pub path: String,
    /// Folder of `path` (`""` at the top, else without a trailing `/`).
    pub folder: String,
    /// File name (last component of `path`).
    pub name: String,
    /// Image format from the content (`jpeg`, `png`, `webp`, `gif`, `bmp`, `tiff`, `heic`, `avif`).
    pub format: String,
    /// File size in bytes.
    pub bytes: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Modification time, RFC 3339 (UTC).
    pub mtime: String,
    /// EXIF date taken (`DateTimeOriginal`), RFC 3339; with no time zone in the EXIF
    /// (`OffsetTimeOriginal`), read as UTC.
    pub taken_at: Option<String>,
    /// EXIF camera make.
    pub camera_make: Option<String>,
    /// EXIF camera model.
    pub camera_model: Option<String>,
    /// EXIF GPS latitude, decimal degrees (north positive).
    pub gps_lat: Option<f64>,
    /// EXIF GPS longitude, decimal degrees (east positive).
    pub gps_lon: Option<f64>,
    /// Label scores in `[0, 1]`, by label name (see [`crate::labels`]); empty for collections without
    /// labels (a model without a text tower).
    #[serde(default)]
    pub labels: BTreeMap<String, f32>,
    /// The labels of the policy in force with action `flag` whose threshold the image's score reaches.
    #[serde(default)]
    pub flags: Vec<String>,
    /// The labels with action `hide` whose threshold the image's score reaches.
    #[serde(default)]
    pub hidden: Vec<String>,
    /// For a frame of a video: the video and the frame's time in it (`path` is then
    /// `VIDEO#t=SECONDS`, `format` the video's container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoFrame>,
}

/// Where a video frame comes from: its video and its time in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoFrame {
    /// The video file's path relative to the indexed folder, `/`-separated.
    pub path: String,
    /// The frame's time from the start of the video, in seconds (to the millisecond).
    pub seconds: f64,
}

impl VideoFrame {
    /// The frame at `ms` milliseconds into the video at `path`.
    pub fn at_ms(path: impl Into<String>, ms: u64) -> Self {
        Self {
            path: path.into(),
            seconds: ms as f64 / 1000.0,
        }
    }

    /// The frame's time in milliseconds.
    pub fn ms(&self) -> u64 {
        (self.seconds.max(0.0) * 1000.0).round() as u64
    }

    /// The frame's own path, `VIDEO#t=SECONDS` (a media fragment: the address plays the video from
    /// there), with the seconds as short as they can be written (`clip.mp4#t=5`, `clip.mp4#t=2.5`).
    pub fn frame_path(&self) -> String {
        let ms = self.ms();
        let seconds = if ms.is_multiple_of(1000) {
            (ms / 1000).to_string()
        } else {
            format!("{}.{:03}", ms / 1000, ms % 1000)
                .trim_end_matches('0')
                .to_string()
        };
        format!("{}#t={seconds}", self.path)
    }
}

/// The metadata read from a file's content: its format and its EXIF fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentMeta {
    /// Image format from the content ([`format_name`]); empty when the content is not an image.
    pub format: String,
    /// EXIF date taken, RFC 3339 (see [`ImageMeta::taken_at`]).
    pub taken_at: Option<String>,
    /// EXIF `Make`.
    pub camera_make: Option<String>,
    /// EXIF `Model`.
    pub camera_model: Option<String>,
    /// EXIF GPS latitude, decimal degrees (north positive).
    pub gps_lat: Option<f64>,
    /// EXIF GPS longitude, decimal degrees (east positive).
    pub gps_lon: Option<f64>,
}

impl ContentMeta {
    /// Reads the format (by content) and the EXIF fields of a file's bytes. A file without EXIF, or
    /// with EXIF that does not parse, has no EXIF fields (logged at debug level).
    pub fn read(bytes: &[u8]) -> Self {
        let Some(format) = image_io::sniff_format(bytes) else {
            return Self::default();
        };
        let mut meta = Self {
            format: format_name(format),
            ..Self::default()
        };
        match exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes)) {
            Ok(exif) => meta.fill_from_exif(&exif),
            Err(exif::Error::NotFound(_)) => {}
            Err(e) => tracing::debug!("unreadable EXIF: {e}"),
        }
        meta
    }

    fn fill_from_exif(&mut self, exif: &exif::Exif) {
        use exif::{In, Tag};
        let field = |tag| exif.get_field(tag, In::PRIMARY);
        let text = |tag| field(tag).and_then(|f| ascii(&f.value));
        self.camera_make = text(Tag::Make);
        self.camera_model = text(Tag::Model);
        self.taken_at = field(Tag::DateTimeOriginal).and_then(|f| {
            let exif::Value::Ascii(parts) = &f.value else {
                return None;
            };
            let offset = text(Tag::OffsetTimeOriginal);
            exif_date(parts.first()?, offset.as_deref())
        });
        let coordinate = |value: Tag, reference: Tag, negative: &str| {
            let degrees = degrees(&field(value)?.value)?;
            let sign = match text(reference) {
                Some(r) if r.eq_ignore_ascii_case(negative) => -1.0,
                _ => 1.0,
            };
            Some(sign * degrees)
        };
        self.gps_lat = coordinate(Tag::GPSLatitude, Tag::GPSLatitudeRef, "S");
        self.gps_lon = coordinate(Tag::GPSLongitude, Tag::GPSLongitudeRef, "W");
    }
}

/// The lower-case name of an image format: `jpeg`, `png`, `webp`, `gif`, `bmp`, `tiff`, `heic`, `avif`.
pub fn format_name(format: &image_io::ImageFormatSpec) -> String {
    format.name.to_ascii_lowercase()
}

/// The first string of an EXIF ASCII value, trimmed; `None` when empty.
fn ascii(value: &exif::Value) -> Option<String> {
    let exif::Value::Ascii(parts) = value else {
        return None;
    };
    let text = String::from_utf8_lossy(parts.first()?);
    let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!text.is_empty()).then(|| text.to_string())
}

/// Degrees, minutes and seconds (three rationals) as decimal degrees.
fn degrees(value: &exif::Value) -> Option<f64> {
    let exif::Value::Rational(parts) = value else {
        return None;
    };
    let mut total = 0.0;
    for (part, scale) in parts.iter().zip([1.0, 60.0, 3600.0]) {
        if part.denom == 0 {
            return None;
        }
        total += part.to_f64() / scale;
    }
    (!parts.is_empty() && total.is_finite()).then_some(total)
}

/// An EXIF date (`YYYY:MM:DD HH:MM:SS`) with an optional offset (`+HH:MM`) as RFC 3339; UTC without one.
fn exif_date(ascii: &[u8], offset: Option<&str>) -> Option<String> {
    let mut date = exif::DateTime::from_ascii(ascii).ok()?;
    if let Some(offset) = offset {
        if date.parse_offset(offset.as_bytes()).is_err() {
            tracing::debug!("ignoring a bad EXIF time offset {offset:?}");
        }
    }
    let civil = jiff::civil::DateTime::new(
        i16::try_from(date.year).ok()?,
        i8::try_from(date.month).ok()?,
        i8::try_from(date.day).ok()?,
        i8::try_from(date.hour).ok()?,
        i8::try_from(date.minute).ok()?,
        i8::try_from(date.second).ok()?,
        0,
    )
    .ok()?;
    let Some(minutes) = date.offset else {
        return Some(jiff::tz::Offset::UTC.to_timestamp(civil).ok()?.to_string());
    };
    let offset = jiff::tz::Offset::from_seconds(i32::from(minutes) * 60).ok()?;
    let instant = offset.to_timestamp(civil).ok()?;
    Some(instant.display_with_offset(offset).to_string())
}

/// An RFC 3339 date and time as an instant.
pub fn parse_instant(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

impl ImageMeta {
    /// The image's id in queries and answers: its point id in a Qdrant collection, else its number.
    pub fn image_id(&self) -> crate::types::image_id::ImageId {
        match self.point {
            Some(uuid) => crate::types::image_id::ImageId::Uuid(uuid),
            None => crate::types::image_id::ImageId::Number(self.id),
        }
    }

    /// Sets the image's label scores and, from `policy`, the labels it is flagged and hidden by.
    pub fn set_labels(
        &mut self,
        scores: BTreeMap<String, f32>,
        policy: &crate::types::label_policy::Policy,
    ) {
        let (flags, hidden) = policy.actions(&scores);
        self.labels = scores;
        self.flags = flags;
        self.hidden = hidden;
    }

    /// The instant browsing orders by: the date taken when there is one, else the modification time.
    pub fn sort_instant(&self) -> Option<jiff::Timestamp> {
        self.taken_at
            .as_deref()
            .and_then(parse_instant)
            .or_else(|| parse_instant(&self.mtime))
    }
}

/// The format a file name's extension claims ([`format_name`] of the format that lists it: `jpg` is
/// `jpeg`, `heif` is `heic`), lower case; the extension itself when no format lists it.
pub fn format_from_extension(name: &str) -> String {
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    image_io::IMAGE_FORMATS
        .iter()
        .find(|f| f.extensions.contains(&ext.as_str()))
        .map_or(ext, format_name)
}

/// Nanoseconds since the Unix epoch as RFC 3339 (UTC, whole seconds).
pub fn rfc3339_from_ns(ns: i64) -> String {
    jiff::Timestamp::from_second(ns.div_euclid(1_000_000_000))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_path_is_its_video_and_its_time_as_a_media_fragment() {
        let path = |ms| VideoFrame::at_ms("clips/a.mp4", ms).frame_path();
        assert_eq!(path(0), "clips/a.mp4#t=0");
        assert_eq!(path(5_000), "clips/a.mp4#t=5");
        assert_eq!(path(2_500), "clips/a.mp4#t=2.5");
        assert_eq!(path(61_234), "clips/a.mp4#t=61.234");
        assert_eq!(path(1_050), "clips/a.mp4#t=1.05");
        assert_eq!(VideoFrame::at_ms("v.webm", 1_050).ms(), 1_050);
    }

    #[test]
    fn exif_dates_with_and_without_offset() {
        assert_eq!(
            exif_date(b"2024:06:01 12:30:05", None).as_deref(),
            Some("2024-06-01T12:30:05Z")
        );
        assert_eq!(
            exif_date(b"2024:06:01 12:30:05", Some("+02:00")).as_deref(),
            Some("2024-06-01T12:30:05+02:00")
        );
        let with = parse_instant("2024-06-01T12:30:05+02:00").expect("parse");
        assert_eq!(with.to_string(), "2024-06-01T10:30:05Z");
        assert_eq!(exif_date(b"not a date", None), None);
    }

    #[test]
    fn formats_are_named_from_the_format_table() {
        for (name, format) in [
            ("a/b.JPG", "jpeg"),
            ("b.jpe", "jpeg"),
            ("c.tif", "tiff"),
            ("IMG_0001.HEIC", "heic"),
            ("d.heif", "heic"),
            ("e.avif", "avif"),
            ("f.xyz", "xyz"),
            ("noext", ""),
        ] {
            assert_eq!(format_from_extension(name), format, "{name}");
        }
        let heic = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/heif/messi_rotated.heic"),
        )
        .expect("the HEIC fixture");
        let meta = ContentMeta::read(&heic);
        assert_eq!(meta.format, "heic");
    }

    #[test]
    fn non_images_have_no_format_and_plain_images_no_exif() {
        assert_eq!(ContentMeta::read(b"hello"), ContentMeta::default());
        let mut png = Vec::new();
        image::RgbImage::new(2, 2)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encode");
        let meta = ContentMeta::read(&png);
        assert_eq!(meta.format, "png");
        assert_eq!(meta.taken_at, None);
    }
}
