//! `vsearch models`.

#[derive(clap::Subcommand)]
pub enum Command {
    /// Show presets, which are cached, their dimension and whether text search works.
    List,
}

pub fn run(_cmd: Command) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
