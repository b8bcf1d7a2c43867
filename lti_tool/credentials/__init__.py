"""What a participant takes away: the certificate PDF and the signed Open Badges credential."""
