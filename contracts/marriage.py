"""Events published by marriage registration (婚姻登记). The domain's issue adds them; none are published yet."""
