# shellcheck shell=sh
# ROS 2 in every bash login shell: source the setup script of the ROS 2
# distribution installed under /opt/ros, so that `ros2` works right after
# logging in. Nothing when there is none, or more than one (then source the
# one you want yourself), in a shell that already has a ROS environment, or
# in other shells: setup.bash is bash.
if [ -n "${BASH_VERSION:-}" ] && [ -z "${AMENT_PREFIX_PATH:-}" ]; then
	rtik_ros_setup=
	for rtik_ros_f in /opt/ros/*/setup.bash; do
		[ -r "$rtik_ros_f" ] || continue
		if [ -n "$rtik_ros_setup" ]; then
			rtik_ros_setup=
			break
		fi
		rtik_ros_setup=$rtik_ros_f
	done
	if [ -n "$rtik_ros_setup" ]; then
		# shellcheck disable=SC1090 # a path found at run time
		. "$rtik_ros_setup"
	fi
	unset rtik_ros_setup rtik_ros_f
fi
