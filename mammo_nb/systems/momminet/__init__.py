"""MommiNet-v2: tri-view mass detection (nipple detector, IpsiDualNet-v2, BiDualNet-v2, integrated fusion network) as a registered system."""
