# rt-image-kit: where the tools are, for Makefiles that compose them.
#
#   include /usr/local/share/rt-image-kit/mk/tools.mk    (installed)
#   include path/to/rt-image-kit/mk/tools.mk             (source tree)
#
# Then use $(IMG_FETCH), $(IMG_EXTRACT), ... in recipes. In a source tree
# the tools built in build/bin are used; installed, the ones on PATH.
# Set RTIK_TOOLDIR (with a trailing slash) to pick another directory.

rtik_tools_mk := $(dir $(lastword $(MAKEFILE_LIST)))
include $(rtik_tools_mk)paths.mk
RTIK_TOOLDIR ?= $(if $(wildcard $(rtik_tools_mk)../build/bin/img-fetch),$(call rtik_path,$(rtik_tools_mk)../build/bin)/)

IMG_FETCH ?= $(RTIK_TOOLDIR)img-fetch
IMG_EXTRACT ?= $(RTIK_TOOLDIR)img-extract
IMG_GROW ?= $(RTIK_TOOLDIR)img-grow
IMG_LOOP ?= $(RTIK_TOOLDIR)img-loop
IMG_MOUNT ?= $(RTIK_TOOLDIR)img-mount
IMG_UMOUNT ?= $(RTIK_TOOLDIR)img-umount
IMG_OVERLAY ?= $(RTIK_TOOLDIR)img-overlay
IMG_NSPAWN_RUN ?= $(RTIK_TOOLDIR)img-nspawn-run
IMG_NEW ?= $(RTIK_TOOLDIR)img-new
IMG_BINFMT ?= $(RTIK_TOOLDIR)img-binfmt
IMG_BOOT ?= $(RTIK_TOOLDIR)img-boot
IMG_PACK ?= $(RTIK_TOOLDIR)img-pack
IMG_SHRINK ?= $(RTIK_TOOLDIR)img-shrink
IMG_MANIFEST ?= $(RTIK_TOOLDIR)img-manifest
