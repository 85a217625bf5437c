################################################################################
#
# bongoyo
#
################################################################################

BONGOYO_VERSION = 0.1.0
# Built from the repository this recipe sits in (packaging/buildroot/bongoyo
# inside it); as a BR2_EXTERNAL package or copied into package/, set
# BONGOYO_SITE to a checkout of the repository instead.
BONGOYO_SITE = $(realpath $(BONGOYO_PKGDIR)/../../..)
BONGOYO_SITE_METHOD = local
BONGOYO_LICENSE = MIT or Apache-2.0
BONGOYO_LICENSE_FILES = LICENSE-MIT LICENSE-APACHE

# The release profile in Cargo.toml is tuned for size; set it here as well,
# through cargo's environment, so nothing Buildroot passes undoes it.
# The commit goes in through the environment too (no .git in the copy).
BONGOYO_CARGO_ENV = \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
	CARGO_PROFILE_RELEASE_LTO=true \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
	CARGO_PROFILE_RELEASE_PANIC=abort \
	CARGO_PROFILE_RELEASE_STRIP=true \
	CARGO_PROFILE_RELEASE_DEBUG=false \
	CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=false \
	BONGOYO_COMMIT=buildroot-$(BONGOYO_VERSION)

# The init scripts are the repository's own (board/): busybox's S50bongoyo
# checks the file before a restart and waits for the old daemon's hand-over
# before starting the new one.
define BONGOYO_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(@D)/board/busybox/S50bongoyo \
		$(TARGET_DIR)/etc/init.d/S50bongoyo
endef

define BONGOYO_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/board/systemd/bongoyo.service \
		$(TARGET_DIR)/usr/lib/systemd/system/bongoyo.service
endef

$(eval $(cargo-package))
