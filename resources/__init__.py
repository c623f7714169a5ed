"""Non-code assets (icons, the .desktop file, AppStream metadata), installed as
`inspector.resources`; `inspector.icons.resource_root()` finds them in a checkout too."""
