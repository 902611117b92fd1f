# rt-image-kit: the Debian packages a build needs, checked before anything
# runs. Included by image.mk and by the top-level Makefile; a Makefile of
# your own that includes image.mk gets it too.
#
# Run as root, it installs the missing packages (apt-get); as anyone else it
# stops with one line naming them and the command that installs them.
#
#   RTIK_DEPS          the script that knows the packages: scripts/deps in
#                      the source tree, rtik-deps beside this file when
#                      installed
#   RTIK_DEPS_SETS     which of its sets: build and run in the source tree
#                      (the tools are built from it), run when installed
#   RTIK_DEPS_CHECKED  sets already checked (exported to sub-makes, so each
#                      set is checked once per build); set it to
#                      "build run test" to skip the check
#
# Nothing is checked for clean, clean-mounts and distclean alone. In the
# source tree, the tools are also built here when they are not yet (make -C
# images/X in a fresh clone).

rtik_deps_dir := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
include $(rtik_deps_dir)/paths.mk
rtik_deps_dir := $(call rtik_path,$(rtik_deps_dir))
rtik_deps_tree := $(if $(wildcard $(rtik_deps_dir)/../tools/img-loop.c),$(call rtik_path,$(rtik_deps_dir)/..))

RTIK_DEPS ?= $(if $(rtik_deps_tree),$(rtik_deps_tree)/scripts/deps,$(rtik_deps_dir)/rtik-deps)
RTIK_DEPS_SETS ?= $(if $(rtik_deps_tree),build run,run)
RTIK_DEPS_CHECKED ?=

rtik_deps_goals := $(filter-out clean clean-mounts distclean,$(or $(MAKECMDGOALS),all))
rtik_deps_todo := $(filter-out $(RTIK_DEPS_CHECKED) $(if $(filter test,$(RTIK_DEPS_CHECKED)),build run),$(RTIK_DEPS_SETS))

ifneq ($(rtik_deps_goals),)
ifneq ($(rtik_deps_todo),)
# What the script says on stderr becomes make's message; its stdout (what
# it installs) goes to the terminal.
rtik_deps_said := $(shell $(call rtik_q,$(RTIK_DEPS)) install $(rtik_deps_todo) 3>&1 1>&2 2>&3)
ifneq ($(.SHELLSTATUS),0)
$(error $(or $(rtik_deps_said),$(RTIK_DEPS) install $(rtik_deps_todo) failed))
endif
ifneq ($(rtik_deps_said),)
$(warning $(rtik_deps_said))
endif
RTIK_DEPS_CHECKED := $(strip $(RTIK_DEPS_CHECKED) $(rtik_deps_todo))
endif
export RTIK_DEPS_CHECKED

# A source tree whose tools were never built: build them, so that tools.mk
# finds them (RTIK_TOOLDIR set: the caller chose other tools).
ifneq ($(rtik_deps_tree),)
ifeq ($(RTIK_TOOLDIR)$(wildcard $(rtik_deps_tree)/build/bin/img-fetch),)
ifeq ($(call rtik_path,$(CURDIR)),$(rtik_deps_tree))
else ifeq ($(rtik_deps_tree),mk/..)
else
rtik_deps_built := $(shell MAKEFLAGS= RTIK_DEPS_CHECKED='$(RTIK_DEPS_CHECKED)' $(MAKE) -C $(call rtik_q,$(rtik_deps_tree)) --no-print-directory all >&2 || echo failed)
ifneq ($(rtik_deps_built),)
$(error building the tools in $(rtik_deps_tree) failed)
endif
endif
endif
endif
endif
