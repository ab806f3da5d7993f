# The modules compiled into Parley: the one list. Each name is a folder with module.cpp that defines
# `ModuleInfo <name>Module()` in namespace parley::server::modules; registry.cpp is generated from it.
set(PARLEY_MODULES
  disco
  ping
  version
  time
  register
  roster
  offline
  carbons
  blocking
  vcard
  private
  last
  pep
  mam
  csi
  stream_management
)
