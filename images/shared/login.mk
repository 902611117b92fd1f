# The image's user and how it logs in, knobs every recipe shares. A recipe
# sets its defaults before it includes this file (trixie-rt-pi4: IMAGE_USER
# rt; the Ubuntu recipes: none, Ubuntu's own login); every knob is set with
# ?=, so the make command line (NAME=VALUE) wins.
#
#   IMAGE_USER        the user, in sudo and RT_GROUP
#   AUTHORIZED_KEYS   a file of SSH public keys for that user; then SSH
#                     takes keys only
#   IMAGE_PASSWORD    its password, expired: changed at the first login. A
#                     secret: in no manifest, log or world-readable file
#   IMAGE_HOSTNAME    the host name
#
# LOGIN_ENV names what the phase scripts get (IMAGE_ENV), LOGIN_SECRETS
# what they get as a secret (IMAGE_SECRETS).

IMAGE_USER ?=
AUTHORIZED_KEYS ?=
IMAGE_PASSWORD ?=
IMAGE_HOSTNAME ?=

# The keys themselves, so that an edit of the file reruns phase 1.
AUTHORIZED_KEYS_TEXT := $(if $(AUTHORIZED_KEYS),$(if $(wildcard $(AUTHORIZED_KEYS)),$(file <$(AUTHORIZED_KEYS)),\
	$(error $(notdir $(CURDIR)): AUTHORIZED_KEYS: no file '$(AUTHORIZED_KEYS)')))

LOGIN_ENV := IMAGE_USER IMAGE_HOSTNAME AUTHORIZED_KEYS_TEXT
LOGIN_SECRETS := IMAGE_PASSWORD
