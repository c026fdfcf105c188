"""What every --model option and model_version field says its default is: the rule of
governance.serving.serving_version, said one way everywhere (no imports: the CLI reads it
at start-up)."""

VERSION_DEFAULT = "Default: the newest approved version (any version when approval is off)"
VERSION_HELP = "Model version (default: the newest approved)"
