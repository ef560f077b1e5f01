"""Events published by eldercare (养老服务). The domain's issue adds them; none are published yet."""
