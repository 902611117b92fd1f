# The version of rt-image-kit: the tools' --version, and /etc/rt-image.conf
# in the images it builds.
RTIK_VERSION := 0.2.0
