#compdef homeops

_homeops_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _HOMEOPS_COMPLETE=complete_zsh homeops)
}

compdef _homeops_completion homeops

