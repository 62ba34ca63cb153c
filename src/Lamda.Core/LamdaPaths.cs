namespace Lamda;

/// <summary>Where Lamda keeps per-user state: LAMDA_CACHE_DIR, else $XDG_CACHE_HOME/lamda, else ~/.cache/lamda.</summary>
internal static class LamdaPaths
{
    public static string CacheDirectory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("LAMDA_CACHE_DIR") is { Length: > 0 } dir) return dir;
            if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg) return Path.Combine(xdg, "lamda");
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return OperatingSystem.IsWindows()
                ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "Lamda", "cache")
                : Path.Combine(home, ".cache", "lamda");
        }
    }

    public static string Version => typeof(LamdaPaths).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
}
